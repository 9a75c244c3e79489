"""python -m services.worker: run a worker, or look at, redrive and delete the dead letters.

python -m services.worker                         run until SIGTERM or Ctrl-C (finishes the batches in flight)
python -m services.worker dead-letters [--count N]   the oldest dead letters as JSON lines, with their reasons
python -m services.worker redrive ID [ID ...]     put those dead letters back on the stream
python -m services.worker delete ID [ID ...]      delete those dead letters for good

Dead letters are kept in PostgreSQL until they are redriven or deleted: nothing else removes them.
"""

import argparse
import asyncio
import json
import logging
import signal
import sys

from services.common.cli import start
from services.common.db.engine import create_engine, session_factory
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
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with session_factory(engine)() as session:
            for letter in await dead_letters.read(session, count):
                print(json.dumps(letter.show(), ensure_ascii=False))
    finally:
        await engine.dispose()


async def redrive(settings: Settings, ids: list[int]) -> None:
    client, engine = redis_client(settings, "tool"), create_engine(settings.database_url, pool_size=1)
    names = RedisNames(settings.redis_key_prefix)
    try:
        chosen = sorted(set(ids))
        new = await dead_letters.redrive(session_factory(engine), client, names, chosen)
        for old, entry_id in zip(chosen, new, strict=True):
            print(f"{old} -> {entry_id}")
    finally:
        await client.aclose()
        await engine.dispose()


async def delete(settings: Settings, ids: list[int]) -> None:
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        print(f"deleted {await dead_letters.remove(session_factory(engine), ids)} dead letters")
    finally:
        await engine.dispose()


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
    again.add_argument("ids", nargs="+", type=int, help="dead-letter ids, as dead-letters shows them")
    gone = commands.add_parser("delete", help="delete dead letters for good")
    gone.add_argument("ids", nargs="+", type=int, help="dead-letter ids, as dead-letters shows them")
    args = parser.parse_args(argv)
    settings = start()
    if args.command == "dead-letters":
        asyncio.run(show(settings, args.count))
    elif args.command in ("redrive", "delete"):
        try:
            asyncio.run((redrive if args.command == "redrive" else delete)(settings, args.ids))
        except KeyError as exc:
            print(exc.args[0], file=sys.stderr)
            return 1
    else:
        asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
