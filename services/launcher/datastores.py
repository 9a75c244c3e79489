"""PostgreSQL and Redis for ``make run``: the ones that answer at DATABASE_URL and REDIS_URL, else the
machine's own services started, else private instances with their data under the data folder
(docs/running.md)."""

import asyncio
import glob
import os
import pwd
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from services.common.redis import PERSISTENCE_WARNING, REDIS_DOWN, persistence, redis_client
from services.common.settings import Settings
from services.launcher.supervisor import Service, StartError, Supervisor, answers, tcp_open, wait_ready

LOCAL = {"127.0.0.1", "localhost", "::1"}
# How a Redis this run starts keeps its data: the append-only file, written before each answer and synced
# every second; no snapshots (the file is enough, and a failed snapshot would stop writes: MISCONF).
REDIS_PERSISTENCE = ["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]
STARTUP_TIMEOUT_S = {"postgres": 60.0, "redis": 30.0}


@dataclass(frozen=True)
class DataService:
    """PostgreSQL or Redis: where the platform expects it, and how to start one there."""

    name: str
    host: str
    port: int
    usual_port: int
    machine_start: list[list[str]]  # the machine's own service, when installed
    machine_stop: list[list[str]]
    installed: bool
    folder: Path  # its data when this run starts it: a private instance, or the machine's Redis

    def answers(self) -> bool:
        return answers(self.host, self.port)


def postgres_binaries() -> tuple[str, str] | None:
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


def data_services(settings: Settings, data: Path) -> tuple[DataService, DataService]:
    """PostgreSQL and Redis where the settings point; what this run starts keeps its data under ``data``."""
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
        (data / "postgres").resolve(),
    )
    folder = (data / "redis").resolve()
    redis_server = DataService(
        "redis",
        redis.hostname or "127.0.0.1",
        redis.port or 6379,
        6379,
        *machine_redis(6379, folder),
        bool(shutil.which("redis-server")),
        folder,
    )
    return postgres, redis_server


def machine_redis(port: int, folder: Path) -> tuple[list[list[str]], list[list[str]]]:
    """The commands that start the machine's redis-server as a daemon on ``port``, its append-only file in
    ``folder`` (synced every second), and that stop it with a save: a restart finds the stream as it was."""
    start = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", str(port)]
    persist = ["--dir", str(folder), *REDIS_PERSISTENCE]
    stop = ["redis-cli", "-p", str(port), "shutdown", "save"]
    return [["mkdir", "-p", str(folder)], [*start, *persist]], [stop]


async def start_machine_service(service: DataService) -> bool:
    """Start the machine's own service when it is down and belongs where the URL points; True if this
    started it."""
    if service.answers():
        return False
    if not (service.installed and service.host in LOCAL and service.port == service.usual_port):
        return False
    for command in service.machine_start:
        done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, check=False)
        if done.returncode:
            raise StartError(f"could not start the machine's {service.name}: {done.stderr.strip()}")
    await wait_ready(tcp_open(service.host, service.port), service.name, STARTUP_TIMEOUT_S[service.name])
    return True


async def ensure(supervisor: Supervisor, service: DataService, settings: Settings) -> None:
    """The service answering where the settings say, started here if need be."""
    if service.answers():
        supervisor.say("run", f"{service.name}: using the one at {service.host}:{service.port}")
        if service.name == "redis" and (warning := await redis_warning(settings)):
            supervisor.say("run", f"WARNING: {warning}")
        return
    if await start_machine_service(service):
        supervisor.say("run", f"{service.name}: started the machine's own (stopped again on exit)")
        supervisor.stop_commands.extend(service.machine_stop)
        return
    if service.host not in LOCAL:
        raise StartError(f"{service.name} does not answer at {service.host}:{service.port}")
    supervisor.say(
        "run",
        f"{service.name}: a private instance on {service.host}:{service.port}, data in {service.folder}",
    )
    private = private_postgres if service.name == "postgres" else private_redis
    await private(supervisor, service)


async def redis_warning(settings: Settings) -> str | None:
    """What the Redis at REDIS_URL, found running, would lose in a restart or a crash; None when it keeps
    an append-only file, or cannot say (CONFIG refused, or no answer: the workers will say so)."""
    client = redis_client(settings, "tool")
    try:
        kept = await asyncio.wait_for(persistence(client), 10)
    except (*REDIS_DOWN, TimeoutError):
        return None
    finally:
        await client.aclose()
    return PERSISTENCE_WARNING.get(kept)


async def private_postgres(supervisor: Supervisor, service: DataService) -> None:
    binaries = postgres_binaries()
    if binaries is None:
        raise StartError(
            f"PostgreSQL does not answer at {service.host}:{service.port} and is not installed "
            "(apt-get install postgresql, or set DATABASE_URL)"
        )
    initdb, postgres = binaries
    folder = service.folder
    # PostgreSQL refuses to run as root: as root, the data belongs to the postgres user.
    owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder.mkdir(parents=True, exist_ok=True)
    if owner:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
    if not (folder / "PG_VERSION").exists():
        await supervisor.run_once(
            "initdb", [*owner, initdb, "-D", str(folder), "-U", "postgres", "-A", "trust", "--no-sync"]
        )
    argv = [*owner, postgres, "-D", str(folder), "-p", str(service.port), "-k", str(folder)]
    await supervisor.start(
        Service(
            "postgres",
            [*argv, "-c", f"listen_addresses={service.host}"],
            ready=tcp_open(service.host, service.port),
            stop_signal=signal.SIGINT,  # fast shutdown: no client is left by then
        ),
        STARTUP_TIMEOUT_S["postgres"],
    )


async def private_redis(supervisor: Supervisor, service: DataService) -> None:
    binary = shutil.which("redis-server")
    if binary is None:
        raise StartError(
            f"Redis does not answer at {service.host}:{service.port} and is not installed "
            "(apt-get install redis-server, or set REDIS_URL)"
        )
    service.folder.mkdir(parents=True, exist_ok=True)
    argv = [binary, "--port", str(service.port), "--bind", service.host, "--dir", str(service.folder)]
    # The supervisor stops it with SIGTERM, which Redis takes as SHUTDOWN: with the append-only file on, it
    # writes and fsyncs the file before it exits, so nothing it accepted is lost (a test checks it).
    persist = REDIS_PERSISTENCE
    await supervisor.start(
        Service("redis", [*argv, *persist], ready=tcp_open(service.host, service.port)),
        STARTUP_TIMEOUT_S["redis"],
    )
