"""The supervisor keeps the platform up: a service that dies is restarted, one that keeps dying stops it."""

import asyncio
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from services.launcher.supervisor import Service, Supervisor

# Notes each start in the file given, then dies (or, with "once", dies only the first time and stays up).
SCRIPT = """
import pathlib, sys, time
starts = pathlib.Path(sys.argv[1])
first = not starts.exists()
with starts.open("a") as out:
    out.write("start\\n")
time.sleep(float(sys.argv[2]))
if sys.argv[3] == "once" and not first:
    time.sleep(60)
raise SystemExit(int(sys.argv[4]))
"""


def dying(starts: Path, *, after_s: float = 0.5, code: int = 3, once: bool = False) -> list[str]:
    return [sys.executable, "-c", SCRIPT, str(starts), str(after_s), "once" if once else "always", str(code)]


def count(starts: Path) -> int:
    return len(starts.read_text().splitlines()) if starts.exists() else 0


async def until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("code", [3, 0])
async def test_a_service_that_keeps_dying_is_restarted_then_the_watch_gives_up(
    tmp_path: Path, code: int
) -> None:
    console = io.StringIO()
    supervisor = Supervisor(tmp_path, console, restart_delay_s=0.1, give_up_deaths=3, give_up_window_s=60)
    starts = tmp_path / "starts"
    await supervisor.start(Service("flaky", dying(starts, code=code)))
    try:
        why = await asyncio.wait_for(supervisor.watch(), 30)
    finally:
        await supervisor.stop()
    assert count(starts) == 3  # the first start and two restarts; the third death gives up
    assert console.getvalue().count("restarting it in") == 2
    assert why == (
        f"flaky exited with code {code} (see {tmp_path / 'flaky.log'}), 3 times within 60 s: stopping everything"
    )


async def test_a_service_that_dies_once_is_kept_running_in_its_place(tmp_path: Path) -> None:
    console = io.StringIO()
    supervisor = Supervisor(tmp_path, console, restart_delay_s=0.1, give_up_deaths=2)
    await supervisor.start(Service("steady", dying(tmp_path / "steady", after_s=60)))
    starts = tmp_path / "once"
    first = await supervisor.start(Service("once", dying(starts, once=True)))
    watching = asyncio.create_task(supervisor.watch())
    try:
        await until(lambda: count(starts) == 2)
        await asyncio.sleep(1.5)  # past the first run's 0.5 s: the restart stays up
        assert not watching.done()
        assert count(starts) == 2
        steady, again = supervisor.running
        assert (steady.service.name, again.service) == ("steady", first.service)
        assert again.process is not first.process
        assert again.process.returncode is None
    finally:
        await supervisor.stop()
    assert await watching is None
    assert again.process.returncode is not None
    stops = [line for line in console.getvalue().splitlines() if "stopping" in line]
    assert stops == ["run       | stopping once", "run       | stopping steady"]  # newest first, once each


async def test_stopping_during_a_restart_delay_starts_nothing_again(tmp_path: Path) -> None:
    console = io.StringIO()
    supervisor = Supervisor(tmp_path, console, restart_delay_s=1.0)
    starts = tmp_path / "starts"
    await supervisor.start(Service("flaky", dying(starts, after_s=0)))
    watching = asyncio.create_task(supervisor.watch())
    await until(lambda: "restarting it in 1 s" in console.getvalue())
    await supervisor.stop()
    assert await watching is None
    await asyncio.sleep(1.5)  # past the delay
    assert count(starts) == 1
    assert supervisor.running == []
