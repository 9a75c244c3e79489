"""The worker and the days kept, on the real services: a day without its partition is an outage (paused,
nothing dead-lettered, stored once maintenance makes the day); a post older than RETENTION_DAYS, or dated
far ahead, is a dead letter with why; a redelivery after its day was dropped is not stored again."""

import asyncpg
import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db.models import SentimentRollup
from services.common.db.partitions import ANALYSES, POSTS, maintain_database, partition_name
from services.common.names import RedisNames
from services.common.settings import Settings
from tests.support import days_ago
from tests.worker.conftest import (
    Running,
    add,
    counts,
    dead,
    dead_count,
    equals,
    pending,
    post,
    stored,
    until,
)

pytestmark = pytest.mark.usefixtures("session", "redis")


async def drop_day(database_url: str, days: int) -> None:
    """What a maintenance that stopped running leaves: a day of the window without its partitions."""
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    conn = await asyncpg.connect(dsn)
    try:
        for table in (ANALYSES, POSTS):
            await conn.execute(f"DROP TABLE {partition_name(table, days_ago(days).date())}")
    finally:
        await conn.close()


async def test_a_day_without_partitions_pauses_the_worker_until_maintenance_makes_it(
    database: str, worker_settings: Settings, redis: aioredis.Redis, names: RedisNames, engine: AsyncEngine
) -> None:
    await drop_day(database, 2)
    created = days_ago(2).isoformat()
    await add(redis, names, *(post(i, created_at=created) for i in range(3)))
    async with Running(worker_settings.model_copy(update={"worker_claim_idle_s": 0.5})) as worker:
        await until(lambda: worker.paused_by is not None, what="the worker to pause on the missing day")
        assert "no partition of relation" in (worker.paused_by or "")
        assert "python -m services.common.db.partitions" in (worker.paused_by or "")
        assert worker.health()[0]["status"] == "paused"
        assert await counts(engine) == (0, 0)
        assert await maintain_database(database, 30, 400) is not None  # the operator runs it
        await until(lambda: stored(engine, 3), what="the posts once their day exists")
        await until(lambda: equals(pending(redis, names), 0), what="nothing pending")
        assert worker.paused_by is None
    assert await dead(engine) == []


async def test_posts_outside_the_days_kept_are_dead_lettered_with_why(
    worker_settings: Settings, redis: aioredis.Redis, names: RedisNames, engine: AsyncEngine
) -> None:
    await add(
        redis,
        names,
        post(1, created_at="2001-09-09T01:46:40Z"),
        post(2, created_at="9999-12-31T00:00:00Z"),
        post(3),
    )
    async with Running(worker_settings):
        await until(lambda: stored(engine, 1), what="the post of the days kept")
        await until(lambda: equals(pending(redis, names), 0), what="nothing pending")
    reasons = {letter.reason for letter in await dead(engine)}
    assert reasons == {
        "created_at: is older than the 30 days kept (RETENTION_DAYS): a post that old is not stored",
        "created_at: is more than 1 hour(s) ahead of now: not a real post's time",
    }


async def test_a_redelivery_after_its_day_was_dropped_is_not_stored_again(
    database: str, worker_settings: Settings, redis: aioredis.Redis, names: RedisNames, engine: AsyncEngine
) -> None:
    late = post(1, created_at=days_ago(6).isoformat())
    await add(redis, names, late)
    async with Running(worker_settings):
        await until(lambda: stored(engine, 1), what="the post, while its day is kept")
    # Three days kept from now on: its day is dropped, and then it comes back.
    await maintain_database(database, retention_days=3, rollup_retention_days=30)
    assert await counts(engine) == (0, 0)
    await add(redis, names, late)
    async with Running(worker_settings.model_copy(update={"retention_days": 3})):
        await until(lambda: equals(dead_count(engine), 1), what="the redelivery dead-lettered")
    assert await counts(engine) == (0, 0)
    [letter] = await dead(engine)
    assert letter.reason.startswith("created_at: is older than the 3 days kept (RETENTION_DAYS)")
    async with engine.connect() as conn:
        counted = await conn.scalar(
            select(func.sum(SentimentRollup.posts)).where(SentimentRollup.grain == "hour")
        )
    assert counted == 1, "counted once, when it was stored; the drop and the redelivery changed nothing"
