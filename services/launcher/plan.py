"""``make run`` (``python -m services.launcher``): the whole platform on this machine, in the foreground.

In order, each waited on until it answers: PostgreSQL and Redis, the schema (migrations), the embedded Triton
(gRPC at TRITON_URL), ``--workers`` workers (``/health`` on WORKER_METRICS_PORT, +1, ...), the API
(BACKEND_PORT), the synthetic ingester and the dashboard (DASHBOARD_PORT, once ``make dashboard`` has built
it). Each one's output goes to ``<logs>/<name>.log`` and to the console, prefixed with its name. Ctrl-C (or
SIGTERM) stops them in reverse order, each given time to finish (a worker its batches in flight), and stops
PostgreSQL and Redis too when this run started them: nothing it started is left running. While one runs, a second start on the same data folder says so and exits.

Triton and the workers run at PIPELINE_NICE (10): when the CPU is short, the API and the dashboard answer
first and the analysis catches up.

PostgreSQL and Redis: whatever answers at DATABASE_URL and REDIS_URL is used. When nothing does, the
machine's own service is started if it is installed and the URL names its usual place (127.0.0.1:5432,
127.0.0.1:6379); otherwise, for a URL on this machine, a private instance on that port, its data under
``<data>/`` (``postgres/``, ``redis/``), found again by the next run.

    python -m services.launcher [--workers 2] [--logs logs] [--data .data]
    python -m services.launcher services    # only start the machine's PostgreSQL and Redis when they are down
"""

import argparse
import asyncio
import contextlib
import fcntl
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import httpx
import tritonclient.grpc as grpcclient
from sqlalchemy.engine import make_url

from services.common.processes import session_nice
from services.common.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent
LOCAL = {"127.0.0.1", "localhost", "::1"}
STOP_TIMEOUT_S = 40.0  # a worker finishing its batches, Triton unloading its models
STARTUP_TIMEOUT_S = {
    "postgres": 60.0,
    "redis": 30.0,
    "triton": 180.0,
    "worker": 60.0,
    "backend": 60.0,
    "dashboard": 60.0,
}
FRONTEND = ROOT / "frontend"
VITE = FRONTEND / "node_modules" / ".bin" / "vite"


class StartError(RuntimeError):
    """A part of the platform could not be started; the message says which and where its log is."""


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


@dataclass
class Service:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ready: Callable[[], Awaitable[bool]] | None = None
    cwd: Path = ROOT
    stop_signal: int = signal.SIGTERM
    nice: int = 0  # added to its niceness (and its children's): higher, it gives way when the CPU is short
    process: asyncio.subprocess.Process | None = None
    pump: asyncio.Task[None] | None = None


@dataclass
class DataService:
    """PostgreSQL or Redis: where the platform expects it, and how to start one there."""

    name: str
    host: str
    port: int
    usual_port: int
    machine_start: list[list[str]]  # the machine's own service, when installed
    machine_stop: list[list[str]]
    installed: bool


def _postgres_binaries() -> tuple[str, str] | None:
    """initdb and postgres: on the PATH, or Debian's newest under /usr/lib/postgresql."""
    found = [(shutil.which("initdb"), shutil.which("postgres"))]
    for folder in sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True
    ):
        found.append((f"{folder}/initdb", f"{folder}/postgres"))
    for initdb, postgres in found:
        if initdb and postgres and os.access(initdb, os.X_OK) and os.access(postgres, os.X_OK):
            return initdb, postgres
    return None


def data_services(settings: Settings) -> tuple[DataService, DataService]:
    db = make_url(settings.database_url)
    redis = urlsplit(settings.redis_url)
    versions = sorted(os.listdir("/etc/postgresql"), key=float) if os.path.isdir("/etc/postgresql") else []
    cluster = ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main"] if versions else []
    postgres = DataService(
        "postgres",
        db.host or "127.0.0.1",
        db.port or 5432,
        5432,
        [[*cluster, "start"]],
        [[*cluster, "stop"]],
        bool(shutil.which("pg_ctlcluster") and versions),
    )
    redis_server = DataService(
        "redis",
        redis.hostname or "127.0.0.1",
        redis.port or 6379,
        6379,
        [
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "-::1",
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
            ]
        ],
        [["redis-cli", "-p", "6379", "shutdown", "nosave"]],
        bool(shutil.which("redis-server")),
    )
    return postgres, redis_server


async def wait_until(check: Callable[[], bool], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise StartError(f"{what} did not come up within {timeout_s:.0f} s")
        await asyncio.sleep(0.5)


async def start_machine_service(service: DataService) -> bool:
    """Start the machine's own service when it is down and belongs where the URL points; True if this
    started it."""
    if answers(service.host, service.port):
        return False
    if not (service.installed and service.host in LOCAL and service.port == service.usual_port):
        return False
    for command in service.machine_start:
        done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, check=False)
        if done.returncode:
            raise StartError(f"could not start the machine's {service.name}: {done.stderr.strip()}")
    await wait_until(
        lambda: answers(service.host, service.port), service.name, STARTUP_TIMEOUT_S[service.name]
    )
    return True


class Platform:
    def __init__(self, settings: Settings, workers: int, logs: Path, data: Path, console: IO[str]) -> None:
        self.settings, self.workers, self.logs, self.data, self.console = (
            settings,
            workers,
            logs,
            data,
            console,
        )
        self.running: list[Service] = []
        self.stop_commands: list[list[str]] = []
        self.width = 9

    def say(self, name: str, line: str) -> None:
        self.console.write(f"{name:<{self.width}} | {line}\n")
        self.console.flush()

    # -- processes ------------------------------------------------------------------------------------

    async def start(self, service: Service, timeout_s: float = 60.0, *, one_shot: bool = False) -> None:
        log = (self.logs / f"{service.name}.log").open("ab", buffering=0)
        service.process = await asyncio.create_subprocess_exec(
            *service.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, **service.env},
            cwd=service.cwd,
            start_new_session=True,  # Ctrl-C reaches the launcher only; it stops each in order
            preexec_fn=partial(os.nice, service.nice) if service.nice else None,
        )
        if service.nice:
            session_nice(service.process.pid, service.nice)
        self.running.append(service)
        service.pump = asyncio.create_task(self._pump(service, log))
        if service.ready:
            await self._wait_ready(service, timeout_s)
        if not one_shot:
            self.say("run", f"{service.name} is up")

    async def _pump(self, service: Service, log: IO[bytes]) -> None:
        assert service.process is not None
        assert service.process.stdout is not None
        with log:
            async for line in service.process.stdout:
                log.write(line)
                self.say(service.name, line.decode(errors="replace").rstrip())

    async def _wait_ready(self, service: Service, timeout_s: float) -> None:
        assert service.process is not None
        assert service.ready is not None
        deadline = time.monotonic() + timeout_s
        while True:
            if service.process.returncode is not None:
                raise StartError(
                    f"{service.name} exited with {service.process.returncode} while starting: "
                    f"see {self.logs / service.name}.log"
                )
            with contextlib.suppress(Exception):
                if await service.ready():
                    return
            if time.monotonic() > deadline:
                raise StartError(f"{service.name} did not answer within {timeout_s:.0f} s: see its log")
            await asyncio.sleep(0.5)

    async def run_once(self, name: str, argv: list[str]) -> None:
        service = Service(name, argv)
        await self.start(service, one_shot=True)
        assert service.process is not None
        code = await service.process.wait()
        if service.pump:
            await service.pump
        self.running.remove(service)
        if code:
            raise StartError(f"{name} failed: see {self.logs / name}.log")
        self.say("run", f"{name} done")

    async def stop(self) -> None:
        """Stop everything started, newest first; the machine's services last, if this run started them."""
        for service in reversed(self.running):
            process = service.process
            assert process is not None
            if process.returncode is None:
                self.say("run", f"stopping {service.name}")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, service.stop_signal)
                try:
                    await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
                except TimeoutError:
                    self.say("run", f"{service.name} did not stop within {STOP_TIMEOUT_S:.0f} s: killing it")
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    await process.wait()
            with contextlib.suppress(ProcessLookupError):  # anything its children left in its group
                os.killpg(process.pid, signal.SIGKILL)
            if service.pump:
                await service.pump
        self.running.clear()
        for command in reversed(self.stop_commands):
            self.say("run", " ".join(command))
            await asyncio.to_thread(subprocess.run, command, capture_output=True, check=False)
        self.stop_commands.clear()

    # -- the parts ------------------------------------------------------------------------------------

    async def private_postgres(self, service: DataService) -> None:
        binaries = _postgres_binaries()
        if binaries is None:
            raise StartError(
                f"PostgreSQL does not answer at {service.host}:{service.port} and is not installed "
                "(apt-get install postgresql, or set DATABASE_URL)"
            )
        initdb, postgres = binaries
        folder = (self.data / "postgres").resolve()
        # PostgreSQL refuses to run as root: as root, the data belongs to the postgres user.
        owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        folder.mkdir(parents=True, exist_ok=True)
        if owner:
            user = pwd.getpwnam("postgres")
            os.chown(folder, user.pw_uid, user.pw_gid)
        if not (folder / "PG_VERSION").exists():
            await self.run_once(
                "initdb", [*owner, initdb, "-D", str(folder), "-U", "postgres", "-A", "trust", "--no-sync"]
            )
        await self.start(
            Service(
                "postgres",
                [
                    *owner,
                    postgres,
                    "-D",
                    str(folder),
                    "-p",
                    str(service.port),
                    "-k",
                    str(folder),
                    "-c",
                    f"listen_addresses={service.host}",
                ],
                ready=lambda: asyncio.to_thread(answers, service.host, service.port),
                stop_signal=signal.SIGINT,  # fast shutdown: no client is left by then
            ),
            STARTUP_TIMEOUT_S["postgres"],
        )

    async def private_redis(self, service: DataService) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise StartError(
                f"Redis does not answer at {service.host}:{service.port} and is not installed "
                "(apt-get install redis-server, or set REDIS_URL)"
            )
        folder = (self.data / "redis").resolve()
        folder.mkdir(parents=True, exist_ok=True)
        await self.start(
            Service(
                "redis",
                [
                    binary,
                    "--port",
                    str(service.port),
                    "--bind",
                    service.host,
                    "--dir",
                    str(folder),
                    "--appendonly",
                    "yes",
                    "--save",
                    "",
                ],
                ready=lambda: asyncio.to_thread(answers, service.host, service.port),
            ),
            STARTUP_TIMEOUT_S["redis"],
        )

    async def ensure(self, service: DataService, private: Callable[[DataService], Awaitable[None]]) -> None:
        if answers(service.host, service.port):
            self.say("run", f"{service.name}: using the one at {service.host}:{service.port}")
            return
        if await start_machine_service(service):
            self.say("run", f"{service.name}: started the machine's own (stopped again on exit)")
            self.stop_commands.extend(service.machine_stop)
            return
        if service.host not in LOCAL:
            raise StartError(f"{service.name} does not answer at {service.host}:{service.port}")
        self.say(
            "run", f"{service.name}: a private instance on {service.host}:{service.port}, data in {self.data}"
        )
        await private(service)

    def check_ports(self, ports: dict[int, str]) -> None:
        taken = [f"{port} ({what})" for port, what in ports.items() if not port_free(port)]
        if taken:
            raise StartError(
                f"in use by another program: {', '.join(taken)}. Is the platform already running from "
                "another folder? Stop it, or choose other ports (README: settings)."
            )

    async def up(self) -> None:
        s = self.settings
        python = sys.executable
        triton_port = int(s.triton_url.rsplit(":", 1)[1])
        worker_ports = (
            [s.worker_metrics_port + i for i in range(self.workers)] if s.worker_metrics_port else []
        )
        self.check_ports(
            {
                s.backend_port: "the API",
                **({s.dashboard_port: "the dashboard"} if self.dashboard_built() else {}),
                triton_port: "Triton's gRPC",
                triton_port + 1: "Triton's metrics",
                **{port: "a worker's /metrics" for port in worker_ports},
            }
        )
        postgres, redis = data_services(s)
        await self.ensure(postgres, self.private_postgres)
        await self.ensure(redis, self.private_redis)
        await self.run_once("migrate", [python, "-m", "services.common.db.migrate"])

        async def triton_ready() -> bool:
            client = grpcclient.InferenceServerClient(s.triton_url)
            try:
                return bool(await asyncio.to_thread(client.is_server_ready))
            finally:
                client.close()

        await self.start(
            Service(
                "triton",
                [
                    python,
                    "-m",
                    "services.common.inference.embedded",
                    "--repository",
                    str(s.model_repository),
                    "--grpc-port",
                    str(triton_port),
                    "--metrics-port",
                    str(triton_port + 1),
                    "--log-file",
                    str(self.logs / "tritonserver.log"),
                ],
                ready=triton_ready,
                nice=s.pipeline_nice,
            ),
            STARTUP_TIMEOUT_S["triton"],
        )
        for i in range(self.workers):
            port = worker_ports[i] if worker_ports else 0
            await self.start(
                Service(
                    f"worker-{i + 1}",
                    [python, "-m", "services.worker"],
                    env={"WORKER_METRICS_PORT": str(port)},
                    ready=http_ok(f"http://127.0.0.1:{port}/health") if port else None,
                    nice=s.pipeline_nice,
                ),
                STARTUP_TIMEOUT_S["worker"],
            )
        await self.start(
            Service(
                "backend",
                [python, "-m", "services.backend"],
                ready=http_ok(f"http://127.0.0.1:{s.backend_port}/api/health"),
            ),
            STARTUP_TIMEOUT_S["backend"],
        )
        await self.start(Service("ingester", [python, "-m", "services.ingester"]))
        if self.dashboard_built():
            # The built page, with /api and /ws passed on to the API (frontend/vite.config.ts).
            await self.start(
                Service(
                    "dashboard",
                    [str(VITE), "preview"],
                    env={
                        "DASHBOARD_PORT": str(s.dashboard_port),
                        "BACKEND_URL": f"http://127.0.0.1:{s.backend_port}",
                    },
                    cwd=FRONTEND,
                    ready=http_ok(f"http://127.0.0.1:{s.dashboard_port}/"),
                ),
                STARTUP_TIMEOUT_S["dashboard"],
            )

    @staticmethod
    def dashboard_built() -> bool:
        return (FRONTEND / "dist" / "index.html").is_file() and VITE.is_file()

    def where(self) -> list[str]:
        s = self.settings
        api = f"http://127.0.0.1:{s.backend_port}"
        lines = [
            "The platform is up.",
            f"  API        {api}  (OpenAPI {api}/docs, health {api}/api/health)",
            f"  WebSocket  ws://127.0.0.1:{s.backend_port}/ws/sentiment",
            f"  Metrics    {api}/metrics"
            + "".join(f", http://127.0.0.1:{s.worker_metrics_port + i}/metrics" for i in range(self.workers)),
            f"  Dashboard  http://127.0.0.1:{s.dashboard_port}"
            if self.dashboard_built()
            else "  Dashboard  not built (make dashboard builds it; Node.js 20 and npm)",
            f"  Logs       {self.logs}/<name>.log (tritonserver.log: Triton's own)",
            "Ctrl-C stops everything.",
        ]
        return lines


def http_ok(url: str) -> Callable[[], Awaitable[bool]]:
    """A readiness probe: ``url`` answers 200."""

    async def probe() -> bool:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(url)).status_code == 200

    return probe


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
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    starting = asyncio.create_task(platform.up())
    stopping = asyncio.create_task(stop.wait())
    code = 0
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()  # raises StartError
            for line in platform.where():
                platform.say("run", line)
            exits = {
                asyncio.create_task(s.process.wait()): s for s in platform.running if s.process is not None
            }
            done, _ = await asyncio.wait({*exits, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for task in done & exits.keys():
                service = exits[task]
                platform.say("run", f"{service.name} exited with {task.result()}: stopping everything")
                code = 1
            for task in exits:
                task.cancel()
    except StartError as exc:
        platform.say("run", str(exc))
        code = 1
    finally:
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError, StartError):
            await starting
        stopping.cancel()
        await platform.stop()
        platform.say("run", "stopped")
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
        "--data", type=Path, default=Path(".data"), help="private instances' data and the run lock (.data/)"
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.what == "services":
        return asyncio.run(_machine_services(settings))
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


async def _machine_services(settings: Settings) -> int:
    """`make services`: start the machine's PostgreSQL and Redis where they are down, and leave them up."""
    code = 0
    for service in data_services(settings):
        try:
            started = await start_machine_service(service)
        except StartError as exc:
            print(exc, file=sys.stderr)
            code = 1
            continue
        if not answers(service.host, service.port):
            print(
                f"{service.name} does not answer at {service.host}:{service.port} and cannot be started",
                file=sys.stderr,
            )
            code = 1
        else:
            print(f"{service.name}: {'started' if started else 'up'} at {service.host}:{service.port}")
    return code


if __name__ == "__main__":
    sys.exit(main())
