"""The fault suite's rig: its own PostgreSQL (a LATIN1 database, where an emoji is a class-22 poison), its
own Redis (append-only file, as ``make run`` keeps it), its own Triton, two worker processes, posts
flowing throughout, and a listener on the live channel. Each test faults one part, then checks the counts
(docs/pipeline.md, "The fault suite")."""

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, ResponseError
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db.engine import create_engine, session_factory
from services.common.db.migrate import upgrade
from services.common.db.models import SentimentAnalysis, SocialMediaPost
from services.common.names import RedisNames
from services.launcher.tritonserver import EmbeddedTriton
from services.worker import dead_letters
from tests.faults.services import Flow, Gate, Listener, PrivatePostgres, PrivateRedis, Workers
from tests.support import EMPTY_TABLES, free_port, start_triton

DATABASE = "faults"
NAMES = RedisNames("faults:")
FIGURES: list[dict[str, object]] = []  # one row per test, printed at the end of the run


@pytest.fixture(scope="module")
async def postgres() -> AsyncIterator[PrivatePostgres]:
    server = await asyncio.to_thread(PrivatePostgres)
    await asyncio.to_thread(server.start)
    await server.create_latin1_database(DATABASE)
    await asyncio.to_thread(upgrade, server.url(DATABASE))  # Alembic runs an event loop of its own
    yield server
    server.remove()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.remove()


@pytest.fixture(scope="module")
def fault_triton(repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedTriton]:
    """A Triton of the suite's own, so that a test can stop and start it."""
    server = start_triton(repository, tmp_path_factory.mktemp("fault-triton"), grpc_port=free_port())
    yield server
    server.stop()


@dataclass
class Rig:
    postgres: PrivatePostgres
    redis_server: PrivateRedis
    triton: EmbeddedTriton
    engine: AsyncEngine
    redis: aioredis.Redis
    gate: Gate
    flow: Flow
    listener: Listener
    workers: Workers
    poison: set[str] = field(default_factory=set)  # post_ids sent that must be dead-lettered

    async def restart_redis(self, *, kill: bool) -> float:
        """Redis stopped (SHUTDOWN, or SIGKILL) and started again, the workers kept off it until the
        listener is back on the channel: an event published before that would be lost to the test, not to
        the platform (pub/sub is at most once; the API's hub sends clients a resync). Returns when Redis
        went down."""
        self.gate.close()
        await asyncio.sleep(0.3)  # what was already published reaches the listener first
        subscriptions = self.listener.subscriptions
        down_at = time.monotonic()
        if kill:
            self.redis_server.kill()
        else:
            self.redis_server.shut_down()  # the append-only file written and synced first
        self.redis_server.start()
        deadline = down_at + 30
        while self.listener.subscriptions == subscriptions:
            assert time.monotonic() < deadline, "the listener did not subscribe again"
            await asyncio.sleep(0.02)
        self.gate.open()
        return down_at

    async def stored_ids(self) -> list[str]:
        async with self.engine.connect() as conn:
            return list(await conn.scalars(select(SocialMediaPost.post_id)))

    async def pending(self) -> int:
        """Entries delivered and not acknowledged (-1 before the workers made the group)."""
        try:
            return int((await self.redis.xpending(NAMES.stream, NAMES.group))["pending"])
        except ResponseError:
            return -1

    async def settled(self, lost: set[str]) -> bool:
        expected = set(self.flow.sent) - lost - self.poison
        if not expected <= set(await self.stored_ids()) or await self.pending():
            return False
        return self.poison <= {d.fields[b"post_id"].decode() for d in await self.dead()}

    async def dead(self) -> list[dead_letters.DeadLetter]:
        async with session_factory(self.engine)() as session:
            return await dead_letters.read(session, 10_000)

    async def check(self, fault: str, faults: int, *, may_lose: set[str] | None = None) -> None:
        """Stop the flow, let the workers finish, and check: sent = stored (less what ``may_lose`` allows
        and the poison), no post stored twice, nothing dead-lettered but the poison, and an event heard
        for every stored post."""
        await self.flow.stop()
        lost_allowed = may_lose or set()
        deadline = asyncio.get_running_loop().time() + 120
        while not await self.settled(lost_allowed):
            if asyncio.get_running_loop().time() > deadline:
                pytest.fail(
                    f"{fault}: the workers did not catch up within 120 s (logs in {self.workers.logs})"
                )
            await asyncio.sleep(0.2)
        stored = await self.stored_ids()
        async with self.engine.connect() as conn:
            analyses = await conn.scalar(select(func.count()).select_from(SentimentAnalysis))
        sent = set(self.flow.sent)
        lost = sent - set(stored) - self.poison
        dead = {d.fields[b"post_id"].decode() for d in await self.dead()}
        await asyncio.sleep(0.5)  # the last events on their way
        unheard = set(stored) - self.listener.heard
        FIGURES.append(
            {
                "fault": fault,
                "faults": faults,
                "posts sent": len(sent),
                "lost": len(lost),
                "doubled": len(stored) - len(set(stored)),
                "dead-lettered": len(dead),
                "events missing": len(unheard),
            }
        )
        assert lost <= lost_allowed, f"lost {sorted(lost)[:10]}"
        assert len(stored) == len(set(stored)) == analyses, "a post stored twice, or without its analysis"
        assert set(stored) <= sent
        assert dead == self.poison, f"dead-lettered {sorted(dead - self.poison)[:10]}"
        assert not unheard, f"no event for {sorted(unheard)[:10]}"


@pytest.fixture
async def rig(
    postgres: PrivatePostgres,
    redis_server: PrivateRedis,
    fault_triton: EmbeddedTriton,
    repository: Path,
    tmp_path: Path,
) -> AsyncIterator[Rig]:
    engine = create_engine(postgres.url(DATABASE))
    async with engine.begin() as conn:
        await conn.execute(text(EMPTY_TABLES))  # a test before may have left posts and their terms
    # The test's own client rides out the restarts it causes.
    retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), 40)
    client = aioredis.Redis.from_url(
        redis_server.url, socket_connect_timeout=1, retry=retry, retry_on_error=[ConnectionError, OSError]
    )
    await client.flushall()
    for name, value in (("maxmemory", "0"), ("save", "")):  # as a test that failed may have left them
        await client.config_set(name, value)
    gate = Gate(redis_server.port)
    await gate.start()
    env = {
        "DATABASE_URL": postgres.url(DATABASE),
        "REDIS_URL": f"redis://127.0.0.1:{gate.port}/0",
        "REDIS_KEY_PREFIX": NAMES.prefix,
        "TRITON_URL": fault_triton.url,
        "MODEL_REPOSITORY": str(repository),
        "LLM_PROVIDER": "none",
        "WORKER_METRICS_PORT": "0",
        "WORKER_BLOCK_MS": "100",
        "WORKER_CLAIM_IDLE_S": "1",
        "WORKER_RETRY_MAX_S": "0.5",
        "WORKER_DB_TIMEOUT_S": "5",
        "LOG_LEVEL": "INFO",
    }
    workers = Workers(os.environ | env, tmp_path)
    listener = Listener(redis_server.url, NAMES)
    await asyncio.wait_for(listener.subscribed.wait(), 10)
    flow = Flow(redis_server.url, NAMES)
    flow.start()
    rig = Rig(postgres, redis_server, fault_triton, engine, client, gate, flow, listener, workers)
    try:
        yield rig
    finally:
        await flow.stop()
        await asyncio.to_thread(workers.stop)
        await listener.stop()
        await gate.stop()
        await client.aclose()
        await engine.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES:
        return
    columns = list(FIGURES[0])
    terminalreporter.section("fault suite")
    terminalreporter.write_line(" | ".join(columns))
    for row in FIGURES:
        terminalreporter.write_line(" | ".join(str(row[c]) for c in columns))
