"""``python -m benchmarks.dashboard``: the dashboard in Chromium under a fast feed.

The API (``python -m services.backend``, on the 1,000,000 posts of ``python -m benchmarks.seed``) and the
built dashboard (``make dashboard``; ``vite preview``, as ``make run`` serves it) run here; this script
publishes ``post`` events on the platform's pub/sub channel at ``--rate`` a second (the synthetic feed's
posts, as the workers would publish them), which the API relays to the page's WebSocket, while
``frontend/e2e/perf.mjs`` measures the page for ``--seconds``: the main thread's busy share (Long Tasks),
DOM updates a second (counted from outside the page, by a MutationObserver) and the JS heap's growth (after a
forced garbage collection at both ends). Targets: busy under 50 %, heap growth under
20 MB. Writes benchmarks/results/dashboard.json and its section of RESULTS.md.
"""

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis

from benchmarks.report import table, update_section, write_json
from benchmarks.seed import bench_database_url
from services.common.events import PostData, PostEvent, encode_event, preview
from services.common.names import RedisNames
from services.common.settings import load_settings
from services.common.timestamps import utcnow
from services.ingester.synthetic import Generator
from tests.support import free_port

ROOT = Path(__file__).resolve().parent.parent
FRONTEND = ROOT / "frontend"
LABELS = {"positive": "joy", "negative": "anger", "neutral": "neutral"}


async def wait_ok(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout_s:.0f} s")
            await asyncio.sleep(0.5)


async def publish(redis_url: str, channel: str, rate: float, stop: asyncio.Event) -> int:
    """``post`` events at ``rate`` a second until ``stop``; how many were published."""
    feed = Generator(seed=11, run_id=uuid.uuid4().hex[:6])
    sent = 0
    started = time.monotonic()
    async with aioredis.from_url(redis_url) as redis:
        while not stop.is_set():
            due = int((time.monotonic() - started) * rate) - sent
            if due > 0:
                pipe = redis.pipeline(transaction=False)
                for _ in range(due):
                    made = feed.next()
                    sentiment = made.sentiment if made.sentiment in LABELS else "neutral"
                    now = utcnow()
                    data = PostData(
                        post_id=made.post.post_id,
                        content=preview(made.post.content),
                        source=made.post.source,
                        author=made.post.author,
                        created_at=now,
                        sentiment_label=sentiment,
                        confidence_score=0.8,
                        emotion=made.emotion if made.sentiment in LABELS else "neutral",
                        model_name="bench",
                        analyzed_at=now,
                    )
                    pipe.publish(channel, encode_event(PostEvent(data=data)))
                await pipe.execute()
                sent += due
            await asyncio.sleep(0.02)
    return sent


async def measure(database_url: str, rate: float, seconds: int) -> dict[str, Any]:
    if not (FRONTEND / "dist" / "index.html").is_file():
        raise SystemExit("the dashboard is not built: make dashboard")
    settings = load_settings()
    prefix = f"bench:dashboard:{uuid.uuid4().hex[:6]}:"
    api_port, page_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_KEY_PREFIX": prefix,
        "BACKEND_PORT": str(api_port),
        "DASHBOARD_PORT": str(page_port),
        "BACKEND_URL": f"http://127.0.0.1:{api_port}",
        "WS_METRICS_INTERVAL_S": "30",
        "LOG_LEVEL": "WARNING",
    }
    processes = [
        await asyncio.create_subprocess_exec(sys.executable, "-m", "services.backend", cwd=ROOT, env=env),
        await asyncio.create_subprocess_exec(
            str(FRONTEND / "node_modules" / ".bin" / "vite"),
            "preview",
            cwd=FRONTEND,
            env=env,
        ),
    ]
    stop = asyncio.Event()
    try:
        await wait_ok(f"http://127.0.0.1:{api_port}/api/health")
        await wait_ok(f"http://127.0.0.1:{page_port}/")
        publisher = asyncio.create_task(publish(settings.redis_url, RedisNames(prefix).channel, rate, stop))
        started = time.monotonic()
        driver = await asyncio.create_subprocess_exec(
            shutil.which("node") or "node",
            "e2e/perf.mjs",
            f"http://127.0.0.1:{page_port}",
            str(seconds),
            cwd=FRONTEND,
            stdout=subprocess.PIPE,
        )
        out, _ = await driver.communicate()
        stop.set()
        sent = await publisher
        if driver.returncode:
            raise RuntimeError(f"perf.mjs failed ({driver.returncode})")
        found: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
        found["published"] = sent
        found["published_per_s"] = sent / (time.monotonic() - started)
        return found
    finally:
        stop.set()
        for process in processes:
            process.terminate()
            await asyncio.wait_for(process.wait(), 30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200, help="post events a second (default 200)")
    parser.add_argument("--seconds", type=int, default=120, help="measured time (default 120)")
    parser.add_argument("--database-url", default=None, help="default: sentiment_bench beside DATABASE_URL's")
    args = parser.parse_args()
    found = asyncio.run(measure(args.database_url or bench_database_url(), args.rate, args.seconds))
    rows = [
        ("main thread busy (Long Tasks)", f"{100 * found['busy_share']:.1f} %", "< 50 %"),
        ("JS heap growth", f"{found['heap_growth_mb']:.1f} MB", "< 20 MB"),
        ("DOM updates a second", f"{found['dom_updates_per_s']:.1f}", "a few"),
        ("long tasks / longest", f"{found['long_tasks']} / {found['longest_task_ms']:.0f} ms", ""),
        ("heap at start / end", f"{found['heap_start_mb']:.1f} / {found['heap_end_mb']:.1f} MB", ""),
        ("posts shown (cap 100)", str(found["feed_length"]), "100"),
        ("events published a second", f"{found['published_per_s']:.0f}", f"{args.rate:.0f}"),
    ]
    markdown = table([f"dashboard, {args.rate:.0f} posts/s for {args.seconds} s", "measured", "target"], rows)
    print(markdown)
    write_json("dashboard", {"rate": args.rate, "seconds": args.seconds, **found})
    update_section(
        "dashboard",
        "### The dashboard under a fast feed\n\n"
        "`python -m benchmarks.seed && make dashboard && python -m benchmarks.dashboard`\n\n" + markdown,
    )


if __name__ == "__main__":
    main()
