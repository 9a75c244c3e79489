"""``python -m benchmarks.bluesky``: the Bluesky source's throughput and its cost at a live rate.

A local Jetstream (``tests/fakes/jetstream.py``, in a process of its own) sends generated posts (most
declare English, some nothing; every one's language is identified; a delete and an identity event now and then) to
``python -m services.ingester bluesky``, with no worker running and the backlog limit raised:

- **throughput**: the fake as fast as it can; posts onto the stream a second over ``--seconds`` (20), after
  a warm-up, and the connector's CPU meanwhile;
- **at a live rate**: the fake at ``--rate`` (100) frames a second for ``--live-seconds`` (60); the
  connector's CPU as a share of one core, and its memory.

The fake alone is measured first (frames a second to a client that only counts them), so that the figure
is the connector's, not the fake's.
"""

import argparse
import asyncio
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import psutil
import redis.asyncio as aioredis
from websockets.asyncio.client import connect

from benchmarks.report import table, update_section, write_json
from services.common.names import RedisNames
from services.common.settings import load_settings
from tests.support import free_port

WARM_UP_S = 3.0


@dataclass
class Phase:
    name: str
    seconds: float
    posts: int
    posts_per_s: float
    cpu_share: float  # of one core
    rss_mb: float


async def fake(port: int, rate: float) -> asyncio.subprocess.Process:
    argv = ["-m", "tests.fakes.jetstream", "--port", str(port), "--rate", str(rate)]
    return await asyncio.create_subprocess_exec(sys.executable, *argv)


async def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the fake Jetstream did not listen on {port}")


async def fake_alone(port: int, seconds: float) -> float:
    """Frames a second the fake sends to a client that only counts them."""
    async with connect(f"ws://127.0.0.1:{port}/subscribe", compression=None, max_size=None) as socket:
        started, n = time.monotonic(), 0
        while time.monotonic() - started < seconds:
            await socket.recv()
            n += 1
        return n / (time.monotonic() - started)


async def phase(name: str, rate: float, seconds: float, prefix: str) -> Phase:
    settings = load_settings()
    port = free_port()
    server = await fake(port, rate)
    client = aioredis.Redis.from_url(settings.redis_url)
    names = RedisNames(prefix)
    env = {
        **os.environ,
        "REDIS_KEY_PREFIX": prefix,
        "BLUESKY_JETSTREAM_URLS": f"ws://127.0.0.1:{port}/subscribe",
        "STREAM_MAX_BACKLOG": "100000000",
        "INGEST_METRICS_PORT": "0",
        "LOG_LEVEL": "WARNING",
    }
    try:
        await wait_for_port(port)
        connector = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.ingester", "bluesky", env=env
        )
        process = psutil.Process(connector.pid)
        await asyncio.sleep(WARM_UP_S)
        before, cpu_before, at = await client.xlen(names.stream), process.cpu_times(), time.monotonic()
        await asyncio.sleep(seconds)
        after, cpu_after, elapsed = (
            await client.xlen(names.stream),
            process.cpu_times(),
            time.monotonic() - at,
        )
        rss = process.memory_info().rss / 2**20
        connector.terminate()
        await asyncio.wait_for(connector.wait(), 20)
        cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
        posts = after - before
        return Phase(
            name, round(elapsed, 1), posts, round(posts / elapsed), round(cpu / elapsed, 3), round(rss)
        )
    finally:
        server.terminate()
        await server.wait()
        async for key in client.scan_iter(match=f"{prefix}*", count=1000):
            await client.delete(key)
        await client.aclose()


async def measure(seconds: float, rate: float, live_seconds: float) -> dict[str, Any]:
    port = free_port()
    server = await fake(port, 0)
    try:
        await wait_for_port(port)
        alone = await fake_alone(port, 5.0)
    finally:
        server.terminate()
        await server.wait()
    fast = await phase("as fast as it goes", 0, seconds, f"bench:bluesky:{os.getpid()}:fast:")
    live = await phase(f"{rate:g} frames/s", rate, live_seconds, f"bench:bluesky:{os.getpid()}:live:")
    return {"fake_alone_frames_per_s": round(alone), "phases": [asdict(fast), asdict(live)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--live-seconds", type=float, default=60.0)
    args = parser.parse_args()
    found = asyncio.run(measure(args.seconds, args.rate, args.live_seconds))
    rows = [
        (
            p["name"],
            p["seconds"],
            f"{p['posts']:,}",
            f"{p['posts_per_s']:,}",
            f"{p['cpu_share']:.1%}",
            p["rss_mb"],
        )
        for p in found["phases"]
    ]
    markdown = (
        table(
            ["the bluesky source", "seconds", "posts on the stream", "posts/s", "CPU (one core)", "RSS MB"],
            rows,
        )
        + f"\n\nThe fake Jetstream alone sends {found['fake_alone_frames_per_s']:,} frames/s to a client that "
        "only counts them."
    )
    print(markdown)
    write_json("bluesky", found)
    update_section(
        "bluesky",
        "### The Bluesky source: throughput, and its cost at a live rate\n\n"
        "`python -m benchmarks.bluesky` (a local Jetstream; no worker; every post's language identified, "
        "declared or not)\n\n" + markdown,
    )


if __name__ == "__main__":
    main()
