"""A small process supervisor: start a service, pump its output to its log and the console, wait until it
answers, restart it when it dies (giving up when it keeps dying), and stop everything in reverse order."""

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO

import httpx

from services.common.processes import session_nice

ROOT = Path(__file__).resolve().parents[2]
STOP_TIMEOUT_S = 40.0  # a worker finishing its batches, Triton unloading its models
RESTART_DELAY_S = 1.0  # before restarting a service that died; doubled for each death in the window
RESTART_DELAY_MAX_S = 30.0
GIVE_UP_DEATHS = 5  # this many deaths of one service within GIVE_UP_WINDOW_S stop the platform
GIVE_UP_WINDOW_S = 300.0
Probe = Callable[[], Awaitable[bool]]


class StartError(RuntimeError):
    """A part of the platform could not be started; the message says which and where its log is."""


@dataclass(frozen=True)
class Service:
    """How to run one part of the platform."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ready: Probe | None = None
    cwd: Path = ROOT
    stop_signal: int = signal.SIGTERM
    nice: int = 0  # added to its niceness (and its children's): higher, it gives way when the CPU is short


@dataclass(frozen=True)
class Running:
    service: Service
    process: asyncio.subprocess.Process
    pump: asyncio.Task[None]
    timeout_s: float  # to answer, after a restart too


def ended(code: int) -> str:
    """How a process ended, from its return code: "exited with code 3", "was killed by SIGKILL"."""
    if code >= 0:
        return f"exited with code {code}"
    try:
        return f"was killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"was killed by signal {-code}"


def answers(host: str, port: int) -> bool:
    """Something accepts TCP connections at host:port."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def tcp_open(host: str, port: int) -> Probe:
    """A readiness probe: something listens at host:port."""
    return lambda: asyncio.to_thread(answers, host, port)


def http_ok(url: str) -> Probe:
    """A readiness probe: ``url`` answers 200."""

    async def probe() -> bool:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(url)).status_code == 200

    return probe


async def wait_ready(
    probe: Probe, what: str, timeout_s: float, exited: Callable[[], str | None] = lambda: None
) -> None:
    """Return once ``probe()`` holds; StartError after ``timeout_s`` or as soon as ``exited()`` says why."""
    deadline = time.monotonic() + timeout_s
    while True:
        if (why := exited()) is not None:
            raise StartError(why)
        with contextlib.suppress(Exception):
            if await probe():
                return
        if time.monotonic() > deadline:
            raise StartError(f"{what} did not answer within {timeout_s:.0f} s")
        await asyncio.sleep(0.5)


class Supervisor:
    def __init__(
        self,
        logs: Path,
        console: IO[str],
        *,
        restart_delay_s: float = RESTART_DELAY_S,
        restart_delay_max_s: float = RESTART_DELAY_MAX_S,
        give_up_deaths: int = GIVE_UP_DEATHS,
        give_up_window_s: float = GIVE_UP_WINDOW_S,
    ) -> None:
        self.logs = logs
        self.console = console
        self.running: list[Running] = []
        self.stop_commands: list[list[str]] = []  # run after the processes stop (the machine's services)
        self.width = 9
        self.restart_delay_s = restart_delay_s
        self.restart_delay_max_s = restart_delay_max_s
        self.give_up_deaths = give_up_deaths
        self.give_up_window_s = give_up_window_s
        self._keepers: list[asyncio.Task[str]] = []

    def say(self, name: str, line: str) -> None:
        self.console.write(f"{name:<{self.width}} | {line}\n")
        self.console.flush()

    async def start(
        self,
        service: Service,
        timeout_s: float = 60.0,
        *,
        one_shot: bool = False,
        replacing: Running | None = None,
    ) -> Running:
        """Start ``service`` and wait until it answers (StartError when it exits first or takes over
        ``timeout_s``); ``replacing``: the entry of the dead process it takes the place of."""
        log = (self.logs / f"{service.name}.log").open("ab", buffering=0)
        try:
            process = await asyncio.create_subprocess_exec(
                *service.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env={**os.environ, **service.env},
                cwd=service.cwd,
                start_new_session=True,  # Ctrl-C reaches the launcher only; it stops each in order
                preexec_fn=partial(os.nice, service.nice) if service.nice else None,
            )
        except BaseException:
            log.close()  # the pump closes it otherwise
            raise
        if service.nice:
            session_nice(process.pid, service.nice)
        pump = asyncio.create_task(self._pump(service.name, process, log))
        running = Running(service, process, pump, timeout_s)
        if replacing is None:
            self.running.append(running)
        else:  # in its place, so that stop() keeps the order of the first start
            self.running[self.running.index(replacing)] = running
        if service.ready:

            def exited() -> str | None:
                if process.returncode is None:
                    return None
                why = ended(process.returncode)
                return f"{service.name} {why} while starting: see {self.log_of(service.name)}"

            await wait_ready(service.ready, service.name, timeout_s, exited)
        if not one_shot:
            self.say("run", f"{service.name} is up")
        return running

    async def watch(self) -> str | None:
        """Restart each running service whenever it dies, after a delay (RESTART_DELAY_S, doubled for each
        death in the window, at most RESTART_DELAY_MAX_S). Any exit is a death, 0 included: under ``make run``
        every service runs until stopped. Return why once a service dies ``give_up_deaths`` times within
        ``give_up_window_s``; None when stop() ends the watch."""
        self._keepers = [asyncio.create_task(self._keep(running)) for running in self.running]
        try:
            done, _ = await asyncio.wait(self._keepers, return_when=asyncio.FIRST_COMPLETED)
            return next((task.result() for task in done if not task.cancelled()), None)
        finally:
            await self._unwatch()

    async def _unwatch(self) -> None:
        keepers, self._keepers = self._keepers, []
        for task in keepers:
            task.cancel()
        await asyncio.gather(*keepers, return_exceptions=True)

    async def _keep(self, running: Running) -> str:
        """Restart ``running`` each time it dies; return why once it dies too often."""
        name = running.service.name
        deaths: list[float] = []  # when it died, within the window
        while True:
            code = await running.process.wait()
            await self._reap(running)
            now = time.monotonic()
            deaths = [at for at in deaths if now - at < self.give_up_window_s] + [now]
            died = f"{name} {ended(code)} (see {self.log_of(name)})"
            if len(deaths) >= self.give_up_deaths:
                window = f"{self.give_up_window_s:.0f} s"
                return f"{died}, {len(deaths)} times within {window}: stopping everything"
            delay = min(self.restart_delay_s * 2 ** (len(deaths) - 1), self.restart_delay_max_s)
            self.say("run", f"{died}: restarting it in {delay:g} s")
            await asyncio.sleep(delay)
            place = self.running.index(running)
            try:
                await self.start(running.service, running.timeout_s, replacing=running)
            except (StartError, OSError) as exc:
                # Not started, or died while starting: the next turn counts a death. Slow to answer: it
                # runs on, watched.
                self.say("run", f"restarting {name}: {exc}")
            running = self.running[place]

    def log_of(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    async def _pump(self, name: str, process: asyncio.subprocess.Process, log: IO[bytes]) -> None:
        assert process.stdout is not None  # started with stdout=PIPE
        with log:
            async for line in process.stdout:
                log.write(line)
                self.say(name, line.decode(errors="replace").rstrip())

    async def run_once(self, name: str, argv: list[str]) -> None:
        """Run a command to its end (e.g. the migrations); StartError when it fails."""
        running = await self.start(Service(name, argv), one_shot=True)
        code = await running.process.wait()
        await running.pump
        self.running.remove(running)
        if code:
            raise StartError(f"{name} failed: see {self.log_of(name)}")
        self.say("run", f"{name} done")

    async def stop(self) -> None:
        """Stop watching, then everything started, newest first; then run the stop commands, newest first."""
        await self._unwatch()
        for running in reversed(self.running):
            await self._stop(running)
        self.running.clear()
        for command in reversed(self.stop_commands):
            self.say("run", " ".join(command))
            await asyncio.to_thread(subprocess.run, command, capture_output=True, check=False)
        self.stop_commands.clear()

    async def _stop(self, running: Running) -> None:
        process, name = running.process, running.service.name
        if process.returncode is None:
            self.say("run", f"stopping {name}")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, running.service.stop_signal)
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                self.say("run", f"{name} did not stop within {STOP_TIMEOUT_S:.0f} s: killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        await self._reap(running)

    async def _reap(self, running: Running) -> None:
        """After its exit: kill what its children left in its group (a port they hold would fail a restart),
        and let its output reach its log."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(running.process.pid, signal.SIGKILL)
        await asyncio.shield(running.pump)  # a keeper cancelled here must not cut stop()'s pump short
