"""``python -m benchmarks.fanout``: the WebSocket under many clients.

The API (``python -m services.backend``) runs here on the ``sentiment_bench`` database (``python -m
benchmarks.seed`` first) with a Redis key prefix of its own; ``--clients``
WebSocket clients connect to ``/ws/sentiment`` (spread over ``--processes`` client processes, so that the
clients' own parsing does not all share one core), then ``post`` events are published on the platform's
channel at ``--rate`` a second for ``--seconds``, each stamped with its publish time. Every client counts
what it gets and the delay from publish to receipt. Targets: every client gets every
event; p99 delay <= 500 ms; no client starves. Writes benchmarks/results/fanout.json and its RESULTS.md
section.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import redis.asyncio as aioredis
import websockets

from benchmarks.report import table, update_section, write_json
from benchmarks.seed import bench_database_url
from services.common.events import PostData, PostEvent, encode_event
from services.common.names import RedisNames
from services.common.settings import load_settings
from tests.support import free_port


async def _clients(url: str, count: int, seconds: float, ready: Any, results: Any) -> None:
    delays: list[float] = []
    received = [0] * count

    async def one(i: int) -> None:
        async with websockets.connect(url, max_queue=None) as ws:
            await ws.recv()  # connected
            ready.put(1)
            try:
                async with asyncio.timeout(seconds):
                    async for raw in ws:
                        event = json.loads(raw)
                        if event["type"] == "post":
                            sent = datetime.fromisoformat(event["data"]["analyzed_at"]).timestamp()
                            delays.append(time.time() - sent)
                            received[i] += 1
            except TimeoutError:
                pass

    await asyncio.gather(*(one(i) for i in range(count)))
    results.put((received, delays))


def clients(url: str, count: int, seconds: float, ready: Any, results: Any) -> None:
    asyncio.run(_clients(url, count, seconds, ready, results))


async def publish(redis_url: str, channel: str, rate: float, seconds: float) -> int:
    sent = 0
    started = time.monotonic()
    async with aioredis.from_url(redis_url) as redis:
        while time.monotonic() - started < seconds:
            due = int((time.monotonic() - started) * rate) - sent
            for _ in range(due):
                now = datetime.now(UTC)
                data = PostData(
                    post_id=f"fanout-{sent}",
                    content="a post of the fan-out benchmark",
                    source="bench",
                    author="bench",
                    created_at=now,
                    sentiment_label="neutral",
                    confidence_score=0.5,
                    emotion="neutral",
                    model_name="bench",
                    analyzed_at=now,  # the publish time, read back by the clients
                )
                await redis.publish(channel, encode_event(PostEvent(data=data)))
                sent += 1
            await asyncio.sleep(0.005)
    return sent


async def measure(clients_n: int, processes: int, rate: float, seconds: int) -> dict[str, Any]:
    settings = load_settings()
    prefix = f"bench:fanout:{uuid.uuid4().hex[:6]}:"
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": bench_database_url(),  # the API's metrics_update and alert checks read it
        "REDIS_KEY_PREFIX": prefix,
        "BACKEND_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "WS_CLIENT_QUEUE": "1000",
    }
    backend = await asyncio.create_subprocess_exec(sys.executable, "-m", "services.backend", env=env)
    context = multiprocessing.get_context("spawn")
    ready, results = context.Queue(), context.Queue()
    workers = []
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(120):
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/api/health")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.5)
        url = f"ws://127.0.0.1:{port}/ws/sentiment"
        listen = seconds + 20  # the clients stop listening this long after connecting
        for p in range(processes):
            count = clients_n // processes + (1 if p < clients_n % processes else 0)
            worker = context.Process(target=clients, args=(url, count, listen, ready, results))
            worker.start()
            workers.append(worker)
        for _ in range(clients_n):
            await asyncio.to_thread(ready.get, True, 120)
        sent = await publish(settings.redis_url, RedisNames(prefix).channel, rate, seconds)
        received: list[int] = []
        delays: list[float] = []
        for _ in workers:
            got, waited = await asyncio.to_thread(results.get, True, listen + 120)
            received += got
            delays += waited
    finally:
        for worker in workers:
            worker.join(timeout=30)
        backend.terminate()
        await backend.wait()
    delays.sort()
    quantiles = statistics.quantiles(delays, n=100) if len(delays) > 1 else [0.0] * 99
    return {
        "clients": clients_n,
        "rate": rate,
        "seconds": seconds,
        "published": sent,
        "received_min": min(received),
        "received_max": max(received),
        "clients_with_every_event": sum(1 for n in received if n == sent),
        "p50_ms": round(1000 * quantiles[49], 1),
        "p95_ms": round(1000 * quantiles[94], 1),
        "p99_ms": round(1000 * quantiles[98], 1),
        "max_ms": round(1000 * delays[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--processes", type=int, default=2, help="client processes (default 2)")
    parser.add_argument("--rate", type=float, default=20, help="post events a second (default 20)")
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    found = asyncio.run(measure(args.clients, args.processes, args.rate, args.seconds))
    rows = [
        ("clients that got every event", f"{found['clients_with_every_event']} of {found['clients']}", "all"),
        (
            "events a client got (min / max)",
            f"{found['received_min']} / {found['received_max']}",
            f"{found['published']} published",
        ),
        ("delay publish -> receipt p50 / p95", f"{found['p50_ms']} / {found['p95_ms']} ms", ""),
        ("delay p99 / max", f"{found['p99_ms']} / {found['max_ms']} ms", "p99 <= 500 ms"),
    ]
    markdown = table(
        [
            f"WebSocket fan-out: {args.clients} clients, {args.rate:.0f} posts/s, {args.seconds} s",
            "measured",
            "target",
        ],
        rows,
    )
    print(markdown)
    write_json("fanout", found)
    update_section("fanout", "### WebSocket fan-out\n\n`python -m benchmarks.fanout`\n\n" + markdown)


if __name__ == "__main__":
    main()
