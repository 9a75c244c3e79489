"""python -m services.ingester [SOURCE] [...]: put posts on the stream (docs/pipeline.md).

python -m services.ingester [synthetic] [--count N]       the synthetic feed at INGEST_RATE posts/s (until
                                                          Ctrl-C, or N posts), INGEST_SCENARIO steady or burst
python -m services.ingester replay FILE [--rate R | --fast] [--map FIELD=NAME ...] [--source S] [--format F]
                                                          the posts of a JSON lines or CSV file
python -m services.ingester bluesky                       every new Bluesky post, from Jetstream (BLUESKY_*)
python -m services.ingester mastodon                      the public or hashtag timelines of MASTODON_INSTANCES
python -m services.ingester hackernews                    every new Hacker News story and comment (HACKERNEWS_*)
python -m services.ingester rss                           the entries of the feeds in RSS_FEEDS (RSS_*)
python -m services.ingester sources                       every source in INGEST_SOURCES, in this one process

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
from services.common.sources import metrics_ports
from services.ingester import bluesky, hackernews, mastodon, replay, rss, synthetic
from services.ingester.producer import Producer
from services.ingester.source import Source, SourceError

SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        synthetic.SOURCE,
        replay.SOURCE,
        bluesky.SOURCE,
        mastodon.SOURCE,
        hackernews.SOURCE,
        rss.SOURCE,
    )
}
DEFAULT = synthetic.SOURCE.name


ALL = "sources"  # every source in INGEST_SOURCES, in one process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.ingester",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command")
    for source in SOURCES.values():
        source.add_arguments(commands.add_parser(source.name, help=source.help))
    commands.add_parser(ALL, help="every source in INGEST_SOURCES, in this one process")
    args = parser.parse_args(argv)
    settings = start()
    if args.command == ALL:
        ports = metrics_ports(settings.ingest_sources, settings.ingest_metrics_port)
        runs = [
            (
                SOURCES[name],
                commands.choices[name].parse_args([]),
                settings.model_copy(update={"ingest_metrics_port": port}),
            )
            for name, port in zip(settings.ingest_sources, ports, strict=True)
        ]
    else:
        runs = [(SOURCES[args.command or DEFAULT], args, settings)]

    async def run() -> list[Producer]:
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        return list(await asyncio.gather(*(source.run(each, given, stop) for source, given, each in runs)))

    started = time.monotonic()
    try:
        producers = asyncio.run(run())
    except SourceError as exc:
        print(exc, file=sys.stderr)
        return 2
    except OSError as exc:
        print(exc, file=sys.stderr)
        return 1
    for (source, _, _), producer in zip(runs, producers, strict=True):
        prefix = f"{source.name}: " if len(runs) > 1 else ""
        print(prefix + producer.tally.summary(time.monotonic() - started), file=sys.stderr)
        with contextlib.suppress(Exception):
            asyncio.run(producer.client.aclose())
    return 0


if __name__ == "__main__":
    sys.exit(main())
