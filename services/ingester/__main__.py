"""python -m services.ingester: put posts on the stream.

python -m services.ingester [synthetic] [--count N]       the synthetic feed at INGEST_RATE posts/s (until
                                                          Ctrl-C, or N posts), INGEST_SCENARIO steady or burst
python -m services.ingester replay FILE [--rate R | --fast] [--map FIELD=NAME ...] [--source S] [--format F]
                                                          the posts of a JSON lines or CSV file, with a
                                                          progress bar and a summary at the end

Every record is validated first (invalid ones are reported and skipped); sending waits while the stream's
backlog is at STREAM_MAX_BACKLOG, and through Redis outages.
"""

import argparse
import asyncio
import contextlib
import hashlib
import logging
import signal
import sys
import time
from pathlib import Path

import redis.asyncio as aioredis
from tqdm import tqdm

from services.common.names import RedisNames
from services.common.settings import Settings, SettingsError, load_settings
from services.ingester.producer import Pacer, Producer, batch_for
from services.ingester.replay import ReplayError, message_fields, parse_mapping, records
from services.ingester.synthetic import TOPICS, Generator

log = logging.getLogger("ingester")


def producer(settings: Settings, rate: float) -> Producer:
    client = aioredis.Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=5)
    return Producer(
        client, RedisNames(settings.redis_key_prefix), settings.stream_max_backlog, batch_for(rate)
    )


async def synthetic(settings: Settings, count: int | None, stop: asyncio.Event) -> Producer:
    generator = Generator(settings.ingest_seed, settings.ingest_scenario, settings.ingest_burst_topic)
    out = producer(settings, settings.ingest_rate)
    pacer = Pacer(settings.ingest_rate, settings.ingest_jitter, settings.ingest_seed)
    log.info(
        "synthetic feed (%s, seed %d) at %s posts/s",
        settings.ingest_scenario,
        settings.ingest_seed,
        settings.ingest_rate or "as many",
    )
    sent = 0
    while not stop.is_set() and (count is None or sent < count):
        await pacer.wait()
        await out.send(generator.next().post)
        sent += 1
    await out.flush()
    return out


async def replay(
    settings: Settings,
    path: Path,
    rate: float,
    mapping: dict[str, str],
    source: str,
    fmt: str | None,
    stop: asyncio.Event,
) -> Producer:
    out = producer(settings, rate)
    pacer = Pacer(rate, settings.ingest_jitter, settings.ingest_seed)
    file_id = "replay-" + hashlib.sha256(str(path).encode()).hexdigest()[:8]  # path: absolute
    with tqdm(desc=f"replay {path.name}", unit="post", file=sys.stderr) as bar:
        for line, record in records(path, fmt):
            if stop.is_set():
                break
            bar.update(1)
            if record is None:
                out.tally.invalid += 1
                out.tally.reasons["not a JSON object"] += 1
                continue
            post = out.check(message_fields(record, mapping, line=line, file_id=file_id, source=source))
            if post is not None:
                await pacer.wait()
                await out.send(post)
    await out.flush()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.ingester",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command")
    synth = commands.add_parser("synthetic", help="the synthetic feed (the default)")
    synth.add_argument("--count", type=int, help="stop after this many posts")
    again = commands.add_parser("replay", help="the posts of a JSON lines or CSV file")
    again.add_argument("file", type=Path)
    pace = again.add_mutually_exclusive_group()
    pace.add_argument("--rate", type=float, help="posts per second (default INGEST_RATE)")
    pace.add_argument("--fast", action="store_true", help="as fast as the backlog allows")
    again.add_argument(
        "--map", action="append", default=[], metavar="FIELD=NAME", help="where a field comes from"
    )
    again.add_argument("--source", default="replay", help="source of records that have none (default replay)")
    again.add_argument("--format", choices=["jsonl", "csv"], help="default: from the file's extension")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        if settings.ingest_burst_topic not in TOPICS:
            raise SettingsError(f"invalid environment: INGEST_BURST_TOPIC: one of {', '.join(TOPICS)}")
        mapping = parse_mapping(args.map) if args.command == "replay" else {}
    except (SettingsError, ReplayError) as exc:
        print(exc, file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def run() -> Producer:
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        if args.command == "replay":
            rate = 0.0 if args.fast else args.rate if args.rate is not None else settings.ingest_rate
            return await replay(settings, args.file.resolve(), rate, mapping, args.source, args.format, stop)
        return await synthetic(settings, getattr(args, "count", None), stop)

    started = time.monotonic()
    try:
        out = asyncio.run(run())
    except (ReplayError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(out.tally.summary(time.monotonic() - started), file=sys.stderr)
    with contextlib.suppress(Exception):
        asyncio.run(out.client.aclose())
    return 0


if __name__ == "__main__":
    sys.exit(main())
