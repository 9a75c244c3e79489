"""Deletes from the posts' sources, on the real Redis, PostgreSQL and Triton: a deleted post is gone from the
posts, the analyses, the registry and the rollup, leaves a tombstone, and is never stored again, whatever the
order in which its create and its delete arrive."""

import asyncio
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db.engine import session_factory
from services.common.db.models import PostId, PostTombstone, SentimentAnalysis, SocialMediaPost
from services.common.events import DeletedEvent, PostEvent
from services.common.messages import DeleteMessage
from services.common.names import RedisNames
from services.common.settings import Settings
from services.worker.store import delete
from tests.common.db.test_rollup import assert_rollup_matches
from tests.worker.conftest import WHEN, Running, add, counts, dead, post, stored, until

pytestmark = pytest.mark.usefixtures("session", "redis")


def deleted(i: int, **fields: str) -> dict[str, str]:
    """The stream fields of the delete of post number ``i``."""
    message = DeleteMessage(post_id=f"p{i}", source="mastodon", deleted_at=datetime.now(UTC))
    return {**message.to_stream(), **fields}


async def rows_of(engine: AsyncEngine, model: type[object]) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(model)) or 0)


async def tombstones(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(select(PostTombstone.post_id))).scalars())


async def settled(redis: aioredis.Redis, names: RedisNames) -> bool:
    """Every entry added so far delivered to the group and acknowledged."""
    groups = await redis.xinfo_groups(names.stream)
    last = (await redis.xinfo_stream(names.stream))["last-generated-id"]
    return bool(groups and groups[0]["last-delivered-id"] == last and groups[0]["pending"] == 0)


async def test_a_delete_takes_the_post_its_analysis_and_its_counts_and_leaves_a_tombstone(
    worker_settings: Settings,
    redis: aioredis.Redis,
    names: RedisNames,
    engine: AsyncEngine,
    events: list[PostEvent],
    deletions: list[DeletedEvent],
) -> None:
    await add(redis, names, *(post(i) for i in range(10)))
    async with Running(worker_settings) as worker:
        await until(lambda: stored(engine, 10), what="10 stored posts")
        await add(redis, names, deleted(1), deleted(2), deleted(99))  # p99 was never stored
        await until(lambda: stored(engine, 8), what="2 posts deleted")
        await until(lambda: settled(redis, names), what="every entry acknowledged")
        # The source replays its last hours: the deleted post comes again, and is not stored.
        await add(redis, names, post(1), post(3))
        await until(lambda: settled(redis, names), what="the replay acknowledged")
    assert await counts(engine) == (8, 8)
    assert await rows_of(engine, PostId) == 8
    assert await tombstones(engine) == {"p1", "p2", "p99"}
    await assert_rollup_matches(engine)
    assert await dead(engine) == []
    gone = [e.data.post_id for e in deletions]
    assert sorted(gone) == ["p1", "p2"], "an event for each stored post deleted, none for p99"
    assert [e.data.post_id for e in events].count("p1") == 1
    sample = worker.metrics.registry.get_sample_value
    assert sample("worker_deletes_total") == 3
    assert sample("worker_posts_deleted_total") == 2
    assert sample("worker_posts_tombstoned_total") == 1  # the replayed p1 (p3 was found stored)


async def test_a_create_and_its_delete_in_one_batch_store_nothing(
    worker_settings: Settings, redis: aioredis.Redis, names: RedisNames, engine: AsyncEngine
) -> None:
    await add(redis, names, post(1), post(2), deleted(1))
    async with Running(worker_settings.model_copy(update={"worker_concurrency": 1})):
        await until(lambda: settled(redis, names), what="every entry acknowledged")
    assert await counts(engine) == (1, 1)
    assert await rows_of(engine, PostId) == 1
    assert await tombstones(engine) == {"p1"}
    await assert_rollup_matches(engine)


async def test_a_delete_that_arrives_first_on_another_worker_keeps_the_post_out(
    worker_settings: Settings, redis: aioredis.Redis, names: RedisNames, engine: AsyncEngine
) -> None:
    await add(redis, names, deleted(4))
    async with Running(worker_settings, "a"):
        await until(lambda: settled(redis, names), what="the delete acknowledged")
    await add(redis, names, post(4), post(5))
    async with Running(worker_settings, "b"):
        await until(lambda: settled(redis, names), what="the posts acknowledged")
    assert await counts(engine) == (1, 1)
    assert await tombstones(engine) == {"p4"}
    assert await dead(engine) == [], "a deleted post is skipped, not refused"


async def test_a_delete_waits_for_a_transaction_storing_the_same_post(engine: AsyncEngine) -> None:
    """The race the registry settles: a worker's transaction has registered the post and not committed
    when another worker deletes it. The delete waits, then deletes what was committed."""
    writer = await engine.connect()
    try:
        await writer.begin()
        await writer.execute(
            text("INSERT INTO post_ids (post_id, created_at) VALUES ('p7', :at)"), {"at": WHEN}
        )
        deleting = asyncio.create_task(_delete(engine, "p7"))
        await asyncio.sleep(0.5)
        assert not deleting.done(), "the delete waits on the registry row in flight"
        await writer.execute(
            text(
                "INSERT INTO social_media_posts (post_id, source, content, author, created_at)"
                " VALUES ('p7', 'mastodon', 'hello', 'someone', :at);"
            ),
            {"at": WHEN},
        )
        await writer.execute(
            text(
                "INSERT INTO sentiment_analysis"
                " (post_id, created_at, model_name, sentiment_label, confidence_score, emotion)"
                " VALUES ('p7', :at, 'm', 'positive', 0.9, 'joy')"
            ),
            {"at": WHEN},
        )
        await writer.commit()
        assert await asyncio.wait_for(deleting, 10) == {"p7"}
    finally:
        await writer.close()
    assert await counts(engine) == (0, 0)
    assert await rows_of(engine, PostId) == 0
    await assert_rollup_matches(engine)


async def test_a_delete_is_idempotent(engine: AsyncEngine) -> None:
    assert await _delete(engine, "p8") == set()
    assert await _delete(engine, "p8") == set()
    assert await tombstones(engine) == {"p8"}
    assert await rows_of(engine, PostId) == 0


async def test_a_malformed_delete_is_dead_lettered_with_its_reason(
    worker_settings: Settings, redis: aioredis.Redis, names: RedisNames, engine: AsyncEngine
) -> None:
    await add(redis, names, {"kind": "delete", "post_id": "p1", "source": "mastodon"}, post(1, kind="edit"))
    async with Running(worker_settings):
        await until(lambda: settled(redis, names), what="both acknowledged")
    reasons = sorted(letter.reason for letter in await dead(engine))
    assert reasons == ["deleted_at: required", "kind: is 'edit': 'post' or 'delete' expected"]
    assert await rows_of(engine, SentimentAnalysis) == 0
    assert await rows_of(engine, SocialMediaPost) == 0


async def _delete(engine: AsyncEngine, post_id: str) -> set[str]:
    """The post_ids whose posts the delete removed."""
    message = DeleteMessage(post_id=post_id, source="mastodon", deleted_at=datetime.now(UTC))
    async with session_factory(engine)() as session:
        return {removed.post_id for removed in await delete(session, [message])}
