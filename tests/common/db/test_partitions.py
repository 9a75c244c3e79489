"""Posts and analyses by day (services/common/db/partitions.py): the days they land in, a post_id kept once
whatever its created_at, and the maintenance (days made ahead, whole days dropped, the registry and the old
rollups forgotten) racing with the writes, with the rollup exact over what is kept and unchanged by a drop."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db.engine import create_engine, session_factory
from services.common.db.models import (
    PostId,
    PostTombstone,
    SentimentAnalysis,
    SentimentRollup,
    SocialMediaPost,
)
from services.common.db.partitions import (
    AHEAD_DAYS,
    ANALYSES,
    DAY,
    LOCK_KEY,
    POSTS,
    maintain_database,
    midnight,
    partition_name,
)
from services.common.db.roles import WORKER_ROLE
from services.common.labels import Emotion, Sentiment
from services.common.messages import DeleteMessage
from services.worker.store import StoredPost, delete, stored, write
from tests.common.db.test_rollup import assert_rollup_matches
from tests.support import as_role, days_ago

pytestmark = pytest.mark.usefixtures("session")


@pytest.fixture
async def worker_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """As the workers write: their own role, which cannot touch a partition or the schema."""
    engine = create_engine(as_role(database_url, WORKER_ROLE))
    yield engine
    await engine.dispose()


def row(post_id: str, created_at: datetime, content: str = "a post") -> StoredPost:
    return StoredPost(
        post_id=post_id,
        source="twitter",
        content=content,
        author="someone",
        created_at=created_at,
        ingested_at=datetime.now(UTC),
        model_name="minilm-bundle@2",
        sentiment_label=Sentiment.POSITIVE,
        confidence_score=0.75,
        emotion=Emotion.JOY,
        analyzed_at=datetime.now(UTC),
    )


async def store(engine: AsyncEngine, *rows: StoredPost) -> set[str]:
    async with session_factory(engine)() as session:
        return (await write(session, rows)).inserted


async def count(engine: AsyncEngine, model: type[object]) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(model)) or 0)


async def owner(database_url: str) -> asyncpg.Connection:
    return await asyncpg.connect(make_url(database_url).set(drivername="postgresql").render_as_string(False))


async def test_posts_either_side_of_midnight_land_in_their_own_days(worker_engine: AsyncEngine) -> None:
    midnight_ = midnight(datetime.now(UTC).date())
    before, after = midnight_ - timedelta(microseconds=1), midnight_
    assert await store(worker_engine, row("late", before), row("early", after)) == {"late", "early"}
    async with worker_engine.connect() as conn:
        for table in (POSTS, ANALYSES):
            found: dict[str, str] = dict(
                (await conn.execute(text(f"SELECT post_id, tableoid::regclass::text FROM {table}"))).all()  # noqa: S608
            )
            assert found == {
                "late": partition_name(table, before.date()),
                "early": partition_name(table, after.date()),
            }


async def test_a_post_id_is_stored_once_whatever_created_at_it_comes_back_with(
    worker_engine: AsyncEngine, engine: AsyncEngine
) -> None:
    first = days_ago(1)
    assert await store(worker_engine, row("again", first)) == {"again"}
    assert await store(worker_engine, row("again", first)) == set(), "the same post, redelivered"
    assert await store(worker_engine, row("again", days_ago(3))) == set(), "redelivered with another day"
    async with session_factory(worker_engine)() as session:
        kept = await stored(session, ["again"])
    assert kept["again"].created_at == first
    assert (await count(engine, SocialMediaPost), await count(engine, SentimentAnalysis)) == (1, 1)
    await assert_rollup_matches(engine)


async def test_two_writers_of_one_post_id_on_different_days_store_it_once(
    worker_engine: AsyncEngine, engine: AsyncEngine
) -> None:
    won = await asyncio.gather(
        *(store(worker_engine, row("raced", days_ago(days))) for days in (1, 2, 3, 4)), return_exceptions=True
    )
    assert sorted(map(str, won)) == ["set()", "set()", "set()", "{'raced'}"]
    assert (await count(engine, SocialMediaPost), await count(engine, SentimentAnalysis)) == (1, 1)


async def partitions_of(database_url: str, table: str) -> set[str]:
    conn = await owner(database_url)
    try:
        rows = await conn.fetch(
            "SELECT inhrelid::regclass::text AS name FROM pg_inherits WHERE inhparent = $1::regclass", table
        )
    finally:
        await conn.close()
    return {r["name"] for r in rows}


async def hourly(engine: AsyncEngine) -> dict[datetime, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(SentimentRollup.bucket, func.sum(SentimentRollup.posts))
            .where(SentimentRollup.grain == "hour")
            .group_by(SentimentRollup.bucket)
        )
        return {bucket: int(n) for bucket, n in rows}


async def test_a_drop_takes_whole_days_and_leaves_their_rollups(
    database: str, worker_engine: AsyncEngine, engine: AsyncEngine
) -> None:
    kept = [row(f"kept-{d}-{i}", days_ago(d, hour=i)) for d in (1, 2) for i in range(3)]
    old = [row(f"old-{d}-{i}", days_ago(d, hour=i)) for d in (6, 7) for i in range(4)]
    await store(worker_engine, *kept, *old)
    buckets = await hourly(engine)

    report = await maintain_database(database, retention_days=3, rollup_retention_days=30)
    assert report is not None
    gone = {partition_name(t, days_ago(d).date()) for t in (POSTS, ANALYSES) for d in (6, 7)}
    assert gone <= set(report.dropped)
    assert report.forgotten_ids == len(old)
    assert await hourly(engine) == buckets, "a DROP fires no trigger: the rollup keeps the dropped days"
    async with engine.connect() as conn:
        assert set((await conn.execute(select(SocialMediaPost.post_id))).scalars()) == {
            r.post_id for r in kept
        }
        assert set((await conn.execute(select(SentimentAnalysis.post_id))).scalars()) == {
            r.post_id for r in kept
        }
        assert set((await conn.execute(select(PostId.post_id))).scalars()) == {r.post_id for r in kept}
    # Over the days kept, the rollup is still exactly the count of the posts.
    since = midnight(days_ago(3).date())
    assert {b: n for b, n in (await hourly(engine)).items() if b >= since} == {
        b: n for b, n in buckets.items() if b >= since
    }
    # Every day of the window has its partitions, from the oldest kept to AHEAD_DAYS ahead.
    today = datetime.now(UTC).date()
    for table in (POSTS, ANALYSES):
        have = await partitions_of(database, table)
        want = {partition_name(table, today + n * DAY) for n in range(-2, AHEAD_DAYS + 1)}
        assert want <= have
        assert not have & gone


async def test_rollups_older_than_their_retention_are_deleted(
    database: str, worker_engine: AsyncEngine, engine: AsyncEngine
) -> None:
    await store(worker_engine, row("recent", days_ago(1)), row("older", days_ago(6)))
    report = await maintain_database(database, retention_days=3, rollup_retention_days=5)
    assert report is not None
    assert report.rollup_rows_deleted == 2, "the older post's minute and hour"
    assert set(await hourly(engine)) == {days_ago(1).replace(minute=0)}


async def test_tombstones_older_than_their_days_are_forgotten(
    database: str, worker_engine: AsyncEngine, engine: AsyncEngine
) -> None:
    async with session_factory(worker_engine)() as session:
        await delete(
            session,
            [
                DeleteMessage(post_id=f"gone-{d}", source="bluesky", deleted_at=days_ago(d))
                for d in (1, 6, 8, 20)
            ],
        )
    report = await maintain_database(database, retention_days=30, rollup_retention_days=400, tombstone_days=7)
    assert report is not None
    assert report.forgotten_tombstones == 2
    async with engine.connect() as conn:
        kept = set((await conn.execute(select(PostTombstone.post_id))).scalars())
    assert kept == {"gone-1", "gone-6"}
    # Without TOMBSTONE_DAYS (the migrate command's own run), every tombstone is kept.
    assert (await maintain_database(database, 30, 400)).forgotten_tombstones == 0  # type: ignore[union-attr]


async def test_one_maintenance_at_a_time(database: str) -> None:
    holder = await owner(database)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
        assert await maintain_database(database, 30, 400) is None
    finally:
        await holder.close()
    assert await maintain_database(database, 30, 400) is not None


async def test_an_interrupted_detach_is_finished_by_the_next_run(
    database: str, worker_engine: AsyncEngine
) -> None:
    day = days_ago(8).date()
    await maintain_database(database, retention_days=10, rollup_retention_days=30)
    name = partition_name(ANALYSES, day)
    reader, detacher = await owner(database), await owner(database)
    try:
        # A reader's snapshot makes the concurrent detach wait; cancelled, it leaves the detach pending.
        await reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        await reader.fetchval(f"SELECT count(*) FROM {ANALYSES}")  # noqa: S608
        await detacher.execute("SET statement_timeout = '300ms'")
        with pytest.raises(asyncpg.QueryCanceledError):
            await detacher.execute(f"ALTER TABLE {ANALYSES} DETACH PARTITION {name} CONCURRENTLY")
        await reader.execute("COMMIT")
        pending = await detacher.fetchval(
            "SELECT inhdetachpending FROM pg_inherits WHERE inhrelid = $1::regclass", name
        )
        assert pending is True
    finally:
        await reader.close()
        await detacher.close()
    # Its day is still kept: finished, then attached again (and with 3 days kept, dropped instead).
    assert await maintain_database(database, retention_days=10, rollup_retention_days=30) is not None
    assert name in await partitions_of(database, ANALYSES)
    await store(worker_engine, row("back", days_ago(8)))


async def test_maintenance_racing_with_writes_loses_nothing(
    database: str, worker_engine: AsyncEngine, engine: AsyncEngine
) -> None:
    await store(worker_engine, *(row(f"old-{i}", days_ago(6, hour=i)) for i in range(10)))
    buckets = await hourly(engine)
    written: set[str] = set()
    stop = asyncio.Event()

    async def writer(n: int) -> None:
        batch = 0
        while not stop.is_set():
            rows = [row(f"w{n}-{batch}-{i}", datetime.now(UTC) - timedelta(seconds=i)) for i in range(20)]
            written.update(await store(worker_engine, *rows))
            batch += 1

    writers = [asyncio.create_task(writer(n)) for n in range(2)]
    await asyncio.sleep(0.2)
    runs = [
        await maintain_database(database, retention_days=3, rollup_retention_days=30),  # drops days
        # days ahead made while the writes go on
        await maintain_database(database, 30, 400, now=datetime.now(UTC) + 2 * DAY),
        await maintain_database(database, retention_days=3, rollup_retention_days=30),
    ]
    stop.set()
    await asyncio.gather(*writers)  # a writer that failed raises here
    assert all(run is not None for run in runs)
    assert any(run.dropped for run in runs if run), "the old days were dropped meanwhile"
    assert any(run.made for run in runs if run), "and days ahead were made"
    assert len(written) >= 40
    async with engine.connect() as conn:
        assert set((await conn.execute(select(SocialMediaPost.post_id))).scalars()) == written
        assert await conn.scalar(select(func.count()).select_from(SentimentAnalysis)) == len(written)
    totals = await hourly(engine)
    old_hours = {b for b in buckets if b < midnight(days_ago(3).date())}
    assert {b: totals[b] for b in old_hours} == {b: buckets[b] for b in old_hours}
    assert sum(totals.values()) == len(written) + 10
