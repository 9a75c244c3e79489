"""python -m services.worker: run a worker, or look at and re-drive the dead-letter stream.

python -m services.worker                         run until SIGTERM or Ctrl-C (finishes the batches in flight)
python -m services.worker dead-letters [--count N]   the oldest dead letters as JSON lines, with their reasons
python -m services.worker redrive ID [ID ...]     put those dead letters back on the stream
"""

import argparse
import asyncio
import json
import logging
import signal
import sys

from services.common.cli import start
from services.common.names import RedisNames
from services.common.processes import frozen_heap
from services.common.redis import redis_client
from services.common.settings import Settings
from services.worker import dead_letters
from services.worker.worker import Worker


async def serve(settings: Settings) -> None:
    worker = Worker(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    logging.getLogger("worker").info("worker %s reading %s", worker.consumer, worker.names.stream)
    with frozen_heap():
        await worker.run()


async def show(settings: Settings, count: int) -> None:
    client = redis_client(settings, "tool")
    try:
        for letter in await dead_letters.read(client, RedisNames(settings.redis_key_prefix), count):
            print(json.dumps(letter.show(), ensure_ascii=False))
    finally:
        await client.aclose()


async def redrive(settings: Settings, ids: list[str]) -> None:
    client = redis_client(settings, "tool")
    try:
        for old, new in zip(
            ids, await dead_letters.redrive(client, RedisNames(settings.redis_key_prefix), ids), strict=True
        ):
            print(f"{old} -> {new}")
    finally:
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.worker",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command")
    listing = commands.add_parser("dead-letters", help="show the oldest dead letters")
    listing.add_argument("--count", type=int, default=100)
    again = commands.add_parser("redrive", help="put dead letters back on the stream")
    again.add_argument("ids", nargs="+", help="dead-letter entry ids, as dead-letters shows them")
    args = parser.parse_args(argv)
    settings = start()
    if args.command == "dead-letters":
        asyncio.run(show(settings, args.count))
    elif args.command == "redrive":
        try:
            asyncio.run(redrive(settings, args.ids))
        except KeyError as exc:
            print(exc.args[0], file=sys.stderr)
            return 1
    else:
        asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
