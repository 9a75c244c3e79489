"""Fixtures on the real PostgreSQL and Redis: a database and a key prefix of the run's own, dropped after."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from export.build import build
from services.common.db.engine import create_engine, session_factory
from services.common.db.migrate import drop_database, upgrade, wait_for_database
from services.common.db.partitions import maintain_database
from services.common.names import RedisNames
from services.common.settings import Settings, load_settings
from services.launcher.tritonserver import EmbeddedTriton
from tests.support import EMPTY_TABLES, LLM_KEY, FakeProvider, LoneRedis, start_triton

RUN_ID = uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The environment's settings, pointed at this run's own database and key prefix."""
    base = load_settings()
    database = f"sentiment_test_{RUN_ID}"
    url = make_url(base.database_url).set(database=database).render_as_string(hide_password=False)
    return base.model_copy(update={"database_url": url, "redis_key_prefix": f"test:{RUN_ID}:"})


@pytest.fixture(scope="session")
def database_url(settings: Settings) -> Iterator[str]:
    """A migrated database for the whole run; dropped at the end."""
    asyncio.run(wait_for_database(settings.database_url, timeout_s=30))
    upgrade(settings.database_url)
    yield settings.database_url
    asyncio.run(drop_database(settings.database_url))


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[str]:
    """The run's database; afterwards every day of the default window is there again for the next test."""
    yield database_url
    await maintain_database(database_url, 30, 400)


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session on the run's database; every table is emptied after the test."""
    async with session_factory(engine)() as session:
        yield session
    async with engine.begin() as conn:
        await conn.execute(text(EMPTY_TABLES))


@pytest.fixture
def names(settings: Settings) -> RedisNames:
    return RedisNames(settings.redis_key_prefix)


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    """A client on the real Redis; every key under the run's prefix is deleted after the test."""
    client = aioredis.Redis.from_url(settings.redis_url)
    await client.ping()
    yield client
    async for key in client.scan_iter(match=f"{settings.redis_key_prefix}*", count=500):
        await client.delete(key)
    await client.aclose()


@pytest.fixture(scope="session")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Triton model repository made by the real export of the committed bundled model, once per run."""
    repo = tmp_path_factory.mktemp("model_repository")
    build(repo)
    return repo


@pytest.fixture(scope="session")
def triton(repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedTriton]:
    """The real tritonserver serving the repository that the real export built, once per run."""
    server = start_triton(repository, tmp_path_factory.mktemp("triton"))
    yield server
    server.stop()


@pytest.fixture
def lone_redis() -> Iterator[LoneRedis]:
    """A Redis of the test's own, for outages: started by the test, stopped after it."""
    server = LoneRedis()
    yield server
    if server.process is not None:
        server.process.terminate()
        server.process.wait(10)


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    """A local chat-completions server playing the LLM provider."""
    with FakeProvider() as fake:
        yield fake


@pytest.fixture
def llm_settings(settings: Settings, provider: FakeProvider) -> Settings:
    """The run's settings with the fake provider configured, retrying quickly."""
    return settings.model_copy(
        update={
            "llm_provider": "custom",
            "llm_base_url": provider.url,
            "llm_model": "fake-model",
            "llm_api_key": SecretStr(LLM_KEY),
            "llm_timeout_s": 2.0,
            "llm_max_retries": 2,
            "llm_batch_size": 4,
        }
    )
