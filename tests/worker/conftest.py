"""What the worker tests share: posts, a worker's settings, and waiting for the database to show results."""

import asyncio
import contextlib
import inspect
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db.engine import session_factory
from services.common.db.models import SentimentAnalysis, SocialMediaPost
from services.common.db.roles import WORKER_ROLE
from services.common.events import DeletedEvent, PostEvent, parse_event
from services.common.messages import PostMessage
from services.common.names import RedisNames
from services.common.settings import Settings
from services.launcher.tritonserver import EmbeddedTriton
from services.worker import dead_letters
from services.worker.dead_letters import DeadLetter
from services.worker.worker import Worker
from tests.support import as_role, days_ago

# When the posts of these tests were made: within the days kept, whenever the tests run.
WHEN = days_ago(4)

TEXTS = [
    "I absolutely love this, best day of my life! 😍",
    "This is the worst service I have ever had. I hate it.",
    "The council meeting starts at 7pm in room 204.",
    "so tired of waiting for this update smh",
    "Nouvelle version disponible aujourd'hui",
    "@dana congrats on the launch!!! #proud",
]


def post(i: int, content: str | None = None, **fields: str) -> dict[str, str]:
    """The stream fields of post number ``i``: valid, unless ``content`` or ``fields`` make it otherwise."""
    message = PostMessage(
        post_id=f"p{i}",
        source=["twitter", "reddit", "mastodon"][i % 3],
        content=f"{TEXTS[i % len(TEXTS)]} ({i})",
        author=f"user{i % 7}",
        created_at=WHEN + timedelta(seconds=i),
    )
    return {**message.to_stream(), **({} if content is None else {"content": content}), **fields}


@pytest.fixture
def worker_settings(settings: Settings, triton: EmbeddedTriton, repository: Path) -> Settings:
    """The run's settings, pointed at the test Triton, with short waits so faults show quickly."""
    return settings.model_copy(
        update={
            # As a worker connects in Compose: its own role, which cannot change the schema.
            "database_url": as_role(settings.database_url, WORKER_ROLE),
            "triton_url": triton.url,
            "model_repository": repository,
            "worker_metrics_port": 0,
            "worker_block_ms": 100,
            "worker_claim_idle_s": 30.0,  # as deployed; the takeover tests shorten it
            "worker_concurrency": 2,
        }
    )


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that makes ``python -m services.worker`` use ``settings``."""
    env = dict(os.environ)
    for name in (
        "database_url",
        "redis_url",
        "redis_key_prefix",
        "triton_url",
        "model_repository",
        "worker_metrics_port",
        "worker_block_ms",
        "worker_claim_idle_s",
        "worker_concurrency",
    ):
        env[name.upper()] = str(getattr(settings, name))
    return env | extra


async def add(
    redis: aioredis.Redis, names: RedisNames, *posts: dict[str, str] | dict[bytes, bytes]
) -> list[str]:
    ids: list[Any] = [await redis.xadd(names.stream, p) for p in posts]  # type: ignore[arg-type]
    return [i.decode() for i in ids]


async def pending(redis: aioredis.Redis, names: RedisNames) -> int:
    return int((await redis.xpending(names.stream, names.group))["pending"])


class Running:
    """A worker running in this event loop until the block ends (then stopped as SIGTERM would)."""

    def __init__(self, settings: Settings, consumer: str = "w1") -> None:
        self.worker = Worker(settings, consumer=consumer)

    async def __aenter__(self) -> Worker:
        self.task = asyncio.create_task(self.worker.run())
        return self.worker

    async def __aexit__(self, *_: object) -> None:
        self.worker.stop()
        await asyncio.wait_for(self.task, 30)


async def counts(engine: AsyncEngine) -> tuple[int, int]:
    """Rows in social_media_posts and in sentiment_analysis."""
    async with engine.connect() as conn:
        posts = await conn.scalar(select(func.count()).select_from(SocialMediaPost))
        analyses = await conn.scalar(select(func.count()).select_from(SentimentAnalysis))
    return int(posts or 0), int(analyses or 0)


async def until(check: Callable[[], bool | Awaitable[bool]], timeout_s: float = 60.0, what: str = "") -> None:
    """Poll ``check`` (plain or awaitable) until it holds; fail the test after ``timeout_s``."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await _value(check()):
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what or check}")
        await asyncio.sleep(0.1)


async def _value(result: bool | Awaitable[bool]) -> bool:
    return await result if inspect.isawaitable(result) else result


async def equals(value: Awaitable[object], expected: object) -> bool:
    return await value == expected


async def dead(engine: AsyncEngine) -> list[DeadLetter]:
    """The dead letters kept, oldest first."""
    async with session_factory(engine)() as session:
        return await dead_letters.read(session, 10_000)


async def dead_count(engine: AsyncEngine) -> int:
    return len(await dead(engine))


async def at_least(engine: AsyncEngine, n: int) -> bool:
    return (await counts(engine))[0] >= n


async def stored(engine: AsyncEngine, n: int) -> bool:
    return await counts(engine) == (n, n)


E = TypeVar("E")


@contextlib.asynccontextmanager
async def listening(redis: aioredis.Redis, names: RedisNames, kind: type[E]) -> AsyncIterator[list[E]]:
    """Every event of ``kind`` published on the run's channel while the block runs."""
    received: list[E] = []
    pubsub = redis.pubsub()
    await pubsub.subscribe(names.channel)

    async def listen() -> None:
        async for message in pubsub.listen():
            if message["type"] == "message":
                event = parse_event(message["data"])
                if isinstance(event, kind):
                    received.append(event)

    task = asyncio.create_task(listen())
    try:
        yield received
    finally:
        task.cancel()
        await pubsub.unsubscribe()
        await pubsub.aclose()


@pytest.fixture
async def events(redis: aioredis.Redis, names: RedisNames) -> AsyncIterator[list[PostEvent]]:
    """Every ``post`` event published on the run's channel while the test runs."""
    async with listening(redis, names, PostEvent) as received:
        yield received


@pytest.fixture
async def deletions(redis: aioredis.Redis, names: RedisNames) -> AsyncIterator[list[DeletedEvent]]:
    """Every ``deleted`` event published on the run's channel while the test runs."""
    async with listening(redis, names, DeletedEvent) as received:
        yield received
