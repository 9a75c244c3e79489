"""python -m services.ingester [SOURCE] [...]: put posts on the stream (docs/pipeline.md).

python -m services.ingester [synthetic] [--count N]       the synthetic feed at INGEST_RATE posts/s (until
                                                          Ctrl-C, or N posts), INGEST_SCENARIO steady or burst
python -m services.ingester replay FILE [--rate R | --fast] [--map FIELD=NAME ...] [--source S] [--format F]
                                                          the posts of a JSON lines or CSV file
python -m services.ingester bluesky                       every new Bluesky post, from Jetstream (BLUESKY_*)

Every record is validated first (invalid ones are reported and skipped); sending waits while the stream's
backlog is at STREAM_MAX_BACKLOG, and through Redis outages.
"""

import argparse
import asyncio
import contextlib
import signal
import sys
import time

from services.common.cli import start
from services.ingester import bluesky, replay, synthetic
from services.ingester.producer import Producer
from services.ingester.source import Source, SourceError

SOURCES: dict[str, Source] = {
    source.name: source for source in (synthetic.SOURCE, replay.SOURCE, bluesky.SOURCE)
}
DEFAULT = synthetic.SOURCE.name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.ingester",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command")
    for source in SOURCES.values():
        source.add_arguments(commands.add_parser(source.name, help=source.help))
    args = parser.parse_args(argv)
    source = SOURCES[args.command or DEFAULT]
    settings = start()

    async def run() -> Producer:
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        return await source.run(settings, args, stop)

    started = time.monotonic()
    try:
        out = asyncio.run(run())
    except SourceError as exc:
        print(exc, file=sys.stderr)
        return 2
    except OSError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(out.tally.summary(time.monotonic() - started), file=sys.stderr)
    with contextlib.suppress(Exception):
        asyncio.run(out.client.aclose())
    return 0


if __name__ == "__main__":
    sys.exit(main())
