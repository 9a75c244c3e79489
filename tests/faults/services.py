"""The fault suite's own PostgreSQL and Redis (real servers on free ports, never the machine's), the gate
in front of Redis, the workers, the posts flowing, and the events heard."""

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis
import redis.exceptions
from pydantic import ValidationError

from services.common.events import PostEvent, parse_event
from services.common.names import RedisNames
from services.launcher.datastores import REDIS_PERSISTENCE, postgres_binaries
from tests.support import days_ago, free_port

# Texts that LATIN1 can hold: the suite's database is LATIN1, where an emoji is a class-22 poison.
TEXTS = [
    "I absolutely love this café, best day of my life!",
    "This is the worst service I have ever had. I hate it.",
    "The council meeting starts at 7pm in room 204.",
    "so tired of waiting for this update smh",
    "Nouvelle version disponible aujourd'hui",
    "@dana congrats on the launch!!! #proud",
]
POISON = "what a day 😍 (an emoji LATIN1 cannot hold)"


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout_s:.0f} s")
        time.sleep(0.05)


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


class PrivatePostgres:
    """A PostgreSQL cluster of the suite's own: initdb'd in a temporary folder, started, stopped, restarted."""

    def __init__(self) -> None:
        found = postgres_binaries()
        if found is None:
            raise RuntimeError("PostgreSQL is not installed")
        self.initdb, self.postgres = found
        self.folder = Path(
            tempfile.mkdtemp(prefix="faults-pg-")
        )  # under /tmp: the postgres user can reach it
        self.owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.owner:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        data = self.folder / "data"
        subprocess.run(
            [*self.owner, self.initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"],
            check=True,
            capture_output=True,
        )

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        with (self.folder / "postgres.log").open("ab") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                [
                    *self.owner,
                    self.postgres,
                    "-D",
                    str(self.folder / "data"),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.folder),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",  # a restart is a clean shutdown here: nothing to sync for
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # signalled as a group: runuser passes nothing on
            )
        wait_until(lambda: _answers(self.port), 30, "PostgreSQL to answer")

    def stop(self) -> None:
        """A fast shutdown (SIGINT): connections are closed, what was committed is kept."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            self.process.wait(30)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    async def create_latin1_database(self, name: str) -> None:
        conn = await asyncpg.connect(host="127.0.0.1", port=self.port, user="postgres", database="postgres")
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(
                f"CREATE DATABASE \"{name}\" ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
            )
        finally:
            await conn.close()


class PrivateRedis:
    """A Redis of the suite's own, persisting as ``make run``'s does (AOF, synced every second)."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="faults-redis-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)]
        persist = list(REDIS_PERSISTENCE)  # as make run's Redis
        # CONFIG SET dir, for the test that removes the folder and puts it back (Redis chdirs into it).
        persist += ["--enable-protected-configs", "yes"]
        with (self.folder.parent / f"{self.folder.name}.log").open("ab") as log:
            self.process = subprocess.Popen([*argv, *persist], stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: _answers(self.port), 30, "Redis to answer")

    def shut_down(self) -> None:
        """SHUTDOWN, as SIGTERM asks for it: the append-only file written and synced, then exit."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)

    def kill(self) -> None:
        """SIGKILL: what the append-only file had not written yet is lost."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(30)

    def remove(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        shutil.rmtree(self.folder, ignore_errors=True)


class Gate:
    """A TCP relay between the workers and Redis. Closed, it drops their connections and refuses new ones:
    the test decides when the workers reach Redis again (after its own listener is back on the channel)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.is_open = True
        self._pipes: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.is_open:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        self._pipes |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._pipes -= {writer, up_writer}

    def close(self) -> None:
        self.is_open = False
        for writer in list(self._pipes):
            writer.close()

    def open(self) -> None:
        self.is_open = True

    async def stop(self) -> None:
        self.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@dataclass
class Flow:
    """Posts sent at a steady rate through every fault, straight to Redis; a post counts as sent once
    Redis acknowledged its XADD (a refusal or an outage is retried, as a producer does)."""

    redis_url: str
    names: RedisNames
    rate: float = 40.0
    sent: dict[str, float] = field(default_factory=dict)  # post_id -> when Redis acknowledged it
    refused: int = 0  # XADDs refused or not answered, retried
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _number: int = 0

    def fields(self, content: str | None = None) -> dict[str, str]:
        self._number += 1
        i = self._number
        return {
            "post_id": f"f{i}",
            "source": ["twitter", "reddit", "mastodon"][i % 3],
            "content": content or f"{TEXTS[i % len(TEXTS)]} ({i})",
            "author": f"user{i % 7}",
            "created_at": days_ago(2).isoformat(),
        }

    async def send(self, client: aioredis.Redis, fields: dict[str, str]) -> None:
        """XADD the post, retried until Redis takes it (or the flow stops: then it is not sent)."""
        while not self.stopping.is_set():
            try:
                await client.xadd(self.names.stream, fields)  # type: ignore[arg-type]
            except (redis.exceptions.RedisError, OSError):
                self.refused += 1
                await asyncio.sleep(0.05)
                continue
            self.sent[fields["post_id"]] = time.monotonic()
            return

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        client = aioredis.Redis.from_url(self.redis_url, socket_timeout=2, socket_connect_timeout=1)
        try:
            while not self.stopping.is_set():
                await self.send(client, self.fields())
                await asyncio.sleep(1 / self.rate)
        finally:
            await client.aclose()

    async def stop(self) -> None:
        self.stopping.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, 10)


class Listener:
    """Every ``post`` event on the channel, heard straight from Redis, resubscribing after an outage;
    ``subscribed`` is set while it listens."""

    def __init__(self, redis_url: str, names: RedisNames) -> None:
        self.redis_url = redis_url
        self.names = names
        self.heard: set[str] = set()
        self.subscribed = asyncio.Event()
        self.subscriptions = 0  # how many times it subscribed
        self._task = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        while True:
            client = aioredis.Redis.from_url(self.redis_url, socket_connect_timeout=1)
            try:
                async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.names.channel)
                    self.subscriptions += 1
                    self.subscribed.set()
                    while True:
                        message = await pubsub.get_message(timeout=0.2)
                        if message is not None:
                            with contextlib.suppress(ValidationError):  # not an event: not ours to judge
                                event = parse_event(message["data"])
                                if isinstance(event, PostEvent):
                                    self.heard.add(event.data.post_id)
            except (redis.exceptions.RedisError, OSError):
                self.subscribed.clear()
                await asyncio.sleep(0.02)
            finally:
                with contextlib.suppress(Exception):
                    await client.aclose()

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class Workers:
    """Worker processes, as ``make run`` starts them, that the test can kill and start again."""

    def __init__(self, env: dict[str, str], logs: Path, count: int = 2) -> None:
        self.env = env
        self.logs = logs
        self.started = 0
        self.names = [f"w{i + 1}" for i in range(count)]
        self.processes = [self._start(name) for name in self.names]

    def _start(self, name: str) -> subprocess.Popen[bytes]:
        self.started += 1
        with (self.logs / f"{name}.log").open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "services.worker"],
                env=self.env | {"WORKER_CONSUMER": name},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self, index: int, *, same_name: bool) -> None:
        """SIGKILL one worker and start another in its place: under its name (it first handles what it
        left pending) or a new one (the others take that over after WORKER_CLAIM_IDLE_S)."""
        self.processes[index].kill()
        self.processes[index].wait(10)
        if not same_name:
            self.names[index] = f"w{self.started + 1}"
        self.processes[index] = self._start(self.names[index])

    def stop(self) -> list[int]:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        return [process.wait(60) for process in self.processes]
