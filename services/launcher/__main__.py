"""``make run`` (``python -m services.launcher``): the whole platform on this machine, in the foreground
until Ctrl-C (docs/running.md).

    python -m services.launcher [--workers 2] [--logs logs] [--data .data]
    python -m services.launcher services    # only start the machine's PostgreSQL and Redis when they are down
"""

import argparse
import asyncio
import contextlib
import fcntl
import os
import signal
import sys
from pathlib import Path
from typing import IO

from services.common.cli import settings_or_exit
from services.common.settings import Settings
from services.launcher.datastores import data_services, start_machine_service
from services.launcher.plan import Platform
from services.launcher.supervisor import StartError


def lock(data: Path) -> IO[str] | None:
    """Hold ``<data>/platform.lock`` for this run; None when another run holds it."""
    data.mkdir(parents=True, exist_ok=True)
    handle = (data / "platform.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


async def run(platform: Platform) -> int:
    """Start everything, then keep it running (a service that dies is restarted) until Ctrl-C, SIGTERM or a
    service that keeps dying; stop everything either way."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    starting = asyncio.create_task(platform.up())
    stopping = asyncio.create_task(stop.wait())
    watching: asyncio.Task[str | None] | None = None
    code = 0
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()  # raises StartError
            for line in platform.where():
                platform.say("run", line)
            watching = asyncio.create_task(platform.watch())
            await asyncio.wait({watching, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if watching.done() and (why := watching.result()):
                platform.say("run", why)
                code = 1
    except StartError as exc:
        platform.say("run", str(exc))
        code = 1
    finally:
        for task in (starting, watching):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, StartError):
                    await task
        stopping.cancel()
        await platform.stop()
        platform.say("run", "stopped")
    return code


async def machine_services(settings: Settings, data: Path) -> int:
    """`make services`: start the machine's PostgreSQL and Redis where they are down, and leave them up."""
    code = 0
    for service in data_services(settings, data):
        try:
            started = await start_machine_service(service)
        except StartError as exc:
            print(exc, file=sys.stderr)
            code = 1
            continue
        if not service.answers():
            print(
                f"{service.name} does not answer at {service.host}:{service.port} and cannot be started",
                file=sys.stderr,
            )
            code = 1
        else:
            print(f"{service.name}: {'started' if started else 'up'} at {service.host}:{service.port}")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.launcher",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("what", nargs="?", choices=["platform", "services"], default="platform")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--logs", type=Path, default=Path("logs"), help="one log per service (default logs/)")
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(".data"),
        help="Redis's and private instances' data, the run lock (.data/)",
    )
    args = parser.parse_args(argv)
    settings = settings_or_exit()
    if args.what == "services":
        return asyncio.run(machine_services(settings, args.data))
    held = lock(args.data)
    if held is None:
        pid = (args.data / "platform.lock").read_text().strip() or "?"
        print(
            f"The platform is already running from this folder (pid {pid}); its logs are in {args.logs}/.\n"
            "Stop it with Ctrl-C in its terminal (or kill -TERM " + pid + ") before starting another.",
            file=sys.stderr,
        )
        return 1
    args.logs.mkdir(parents=True, exist_ok=True)
    with held:
        return asyncio.run(run(Platform(settings, args.workers, args.logs, args.data, sys.stdout)))


if __name__ == "__main__":
    sys.exit(main())
