"""Topic tags on the real PostgreSQL, written as the worker's role: each post stored is tagged with the topics
it matches (hashtags, handles, domains and phrases as people write them, narrowed by source and language),
a redelivered batch and a deleted post keep the counts exact, and a topic made later is backfilled, a day a
step, to the same tags and counts, by a running worker too. "Exact" is a count over the retained posts, made here independently."""

import importlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.common.db.engine import create_engine, session_factory
from services.common.db.roles import WORKER_ROLE
from services.common.events import PostEvent
from services.common.labels import Emotion, Sentiment
from services.common.messages import DeleteMessage
from services.common.names import RedisNames
from services.common.settings import Settings
from services.worker.store import StoredPost, delete, write
from services.worker.tagging import backfill_step
from tests.support import as_role, days_ago
from tests.worker.conftest import Running, add, equals, post, stored, until

NOW = days_ago(0, hour=0)
TOPICS = {
    "launch": ('#PhoneLaunch or "new phone"', None, None),
    "alice": ("@alice.bsky.social", None, None),
    "bob": ("@bob@mastodon.social", None, None),
    "site": ("example.com", None, None),
    "cats": ("cats -dogs", ["rss"], ["en"]),
}
TEXTS = [
    ("Loving the #PhoneLaunch today", "bluesky", "en"),
    ("the NEW phone is here", "bluesky", "en"),
    ("a phone that is new", "bluesky", "en"),  # not the phrase
    ("thanks @alice.bsky.social!", "bluesky", "en"),
    ("cc @bob@mastodon.social", "mastodon", "de"),
    ("read https://www.example.com/story now", "rss", "en"),
    ("cats are great", "rss", "en"),
    ("cats and dogs", "rss", "en"),  # -dogs
    ("cats everywhere", "bluesky", "en"),  # not rss
    ("cats partout", "rss", None),  # no language: not en
    ("nothing to see", "hackernews", "en"),
]
EXPECTED = {"launch": {0, 1}, "alice": {3}, "bob": {4}, "site": {5}, "cats": {6}}


def rows(prefix: str, days: int = 3) -> list[StoredPost]:
    """Every text, on each of the last ``days`` days, a sentiment each."""
    return [
        StoredPost(
            post_id=f"{prefix}{day}-{i}",
            source=source,
            content=content,
            author="someone",
            created_at=NOW - timedelta(days=day) + timedelta(hours=9, minutes=i),
            ingested_at=NOW,
            model_name="m",
            sentiment_label=list(Sentiment)[i % 3],
            confidence_score=0.5 + i / 100,
            emotion=list(Emotion)[i % 7],
            analyzed_at=NOW,
            lang=lang,
        )
        for day in range(days)
        for i, (content, source, lang) in enumerate(TEXTS)
    ]


@pytest.fixture
async def worker_engine(settings: Settings, session: AsyncSession) -> AsyncIterator[AsyncEngine]:
    del session  # empties the tables after the test
    engine = create_engine(as_role(settings.database_url, WORKER_ROLE))
    yield engine
    await engine.dispose()


async def make_topics(engine: AsyncEngine, names: list[str]) -> dict[str, int]:
    """The topics, as the API writes them (the owner here: the worker's role may only read them)."""
    ids = {}
    async with engine.begin() as conn:
        for name in names:
            query, sources, languages = TOPICS[name]
            ids[name] = await conn.scalar(
                text(
                    "INSERT INTO topics (name, query, sources, languages) VALUES (:n, :q, :s, :l) RETURNING id"
                ),
                {"n": name, "q": query, "s": sources, "l": languages},
            )
    return ids


async def tags(engine: AsyncEngine) -> dict[int, set[str]]:
    async with engine.connect() as conn:
        found = (await conn.execute(text("SELECT topic_id, post_id FROM post_topics"))).mappings().all()
    out: dict[int, set[str]] = {}
    for row in found:
        out.setdefault(row["topic_id"], set()).add(row["post_id"])
    return out


EXACT = text("""
SELECT t.id, a.sentiment_label, a.emotion, count(*), sum(a.confidence_score)
FROM topics AS t
JOIN social_media_posts AS p ON listening_vector(p.content) @@ t.match
  AND (t.sources IS NULL OR p.source = ANY (t.sources))
  AND (t.languages IS NULL OR coalesce(p.lang, '') = ANY (t.languages))
JOIN sentiment_analysis AS a ON a.post_id = p.post_id AND a.created_at = p.created_at
GROUP BY 1, 2, 3
""")
ROLLED_UP = text(
    "SELECT topic_id, sentiment_label, emotion, sum(posts), sum(confidence_sum) FROM topic_rollup"
    " WHERE grain = :grain GROUP BY 1, 2, 3 HAVING sum(posts) > 0"
)


async def assert_exact(engine: AsyncEngine) -> None:
    """Each topic's rollup, at both grains, holds what a count over the retained posts gives."""
    async with engine.connect() as conn:
        want = {tuple(r[:3]): (r[3], r[4]) for r in await conn.execute(EXACT)}
        for grain in ("minute", "hour"):
            got = {tuple(r[:3]): (r[3], r[4]) for r in await conn.execute(ROLLED_UP, {"grain": grain})}
            assert {k: n for k, (n, _) in got.items()} == {k: n for k, (n, _) in want.items()}, grain
            assert {k: c for k, (_, c) in got.items()} == pytest.approx({k: c for k, (_, c) in want.items()})


def by_topic(ids: dict[str, int], prefix: str, days: int = 3) -> dict[int, set[str]]:
    return {
        ids[name]: {f"{prefix}{day}-{i}" for day in range(days) for i in which}
        for name, which in EXPECTED.items()
        if name in ids
    }


async def test_posts_are_tagged_as_they_are_stored_and_counted_exactly(
    worker_engine: AsyncEngine, engine: AsyncEngine
) -> None:
    ids = await make_topics(engine, list(TOPICS))
    sessions = session_factory(worker_engine)
    async with sessions() as session:
        written = await write(session, rows("a"))
    assert await tags(worker_engine) == by_topic(ids, "a")
    assert written.topics["a0-0"] == [ids["launch"]]
    assert "a0-2" not in written.topics
    await assert_exact(worker_engine)

    async with sessions() as session:  # a redelivered batch: stored once, tagged once
        again = await write(session, rows("a"))
    assert (again.inserted, again.topics) == (set(), {})
    await assert_exact(worker_engine)

    async with sessions() as session:  # deleted by its source: its tags and counts go with it
        await delete(session, [DeleteMessage(post_id="a1-0", source="bluesky", deleted_at=NOW)])
    want = by_topic(ids, "a")
    want[ids["launch"]].discard("a1-0")
    assert await tags(worker_engine) == want
    await assert_exact(worker_engine)


async def test_a_topic_made_later_is_backfilled_a_day_a_step(
    worker_engine: AsyncEngine, engine: AsyncEngine
) -> None:
    sessions = session_factory(worker_engine)
    async with sessions() as session:
        await write(session, rows("b", days=3))
    ids = await make_topics(engine, ["launch", "cats"])
    assert await tags(worker_engine) == {}
    steps = []
    async with worker_engine.connect() as conn:
        while (step := await backfill_step(conn)) is not None:
            steps.append(step)
    # per topic: a step for each of the 3 days, then the one that finds nothing older and finishes
    assert [(s.topic_id, s.finished) for s in steps] == [
        *[(ids["launch"], False)] * 3,
        (ids["launch"], True),
        *[(ids["cats"], False)] * 3,
        (ids["cats"], True),
    ]
    assert sum(s.tagged for s in steps) == 3 * (2 + 1)
    assert await tags(worker_engine) == by_topic(ids, "b")
    await assert_exact(worker_engine)
    async with worker_engine.connect() as conn:
        state = (await conn.execute(text("SELECT revision, backfilled, backfill_before FROM topics"))).all()
    assert state == [(1, 1, None), (1, 1, None)]

    async with sessions() as session:  # posts after the backfill: tagged as they are stored
        await write(session, rows("c", days=1))
    assert await tags(worker_engine) == {
        k: v | by_topic(ids, "c", days=1)[k] for k, v in by_topic(ids, "b").items()
    }
    await assert_exact(worker_engine)


@pytest.mark.usefixtures("redis")
async def test_a_running_worker_backfills_a_topic_and_tags_what_it_reads(
    worker_settings: Settings,
    redis: aioredis.Redis,
    names: RedisNames,
    worker_engine: AsyncEngine,
    engine: AsyncEngine,
    events: list[PostEvent],
) -> None:
    async with session_factory(worker_engine)() as session:
        await write(session, rows("d", days=2))
    async with Running(worker_settings) as worker:
        ids = await make_topics(engine, ["launch"])  # made while the worker runs: its backfill finds it
        await until(lambda: equals(tags(engine), by_topic(ids, "d", days=2)), what="the backfill's tags")
        await add(redis, names, post(1, content="so much #PhoneLaunch news"), post(2, content="rain again"))
        await until(lambda: stored(engine, 2 * len(TEXTS) + 2), what="the streamed posts stored")
    assert await tags(engine) == {ids["launch"]: by_topic(ids, "d", days=2)[ids["launch"]] | {"p1"}}
    await assert_exact(engine)
    assert worker.metrics.registry.get_sample_value("worker_topic_tags_backfilled_total") == 4
    # each post event names its topics; a redelivered post's event too, read from its stored tags
    await until(lambda: len(events) >= 2, what="the posts' events")
    assert {e.data.post_id: e.data.topics for e in events} == {"p1": [ids["launch"]], "p2": []}
    async with Running(worker_settings):
        await add(redis, names, post(1, content="so much #PhoneLaunch news"))
        await until(lambda: len(events) >= 3, what="the redelivered post's event")
    assert (events[-1].data.post_id, events[-1].data.topics) == ("p1", [ids["launch"]])


async def test_the_text_vector_is_the_one_migration_0007_made(engine: AsyncEngine) -> None:
    """Migration 0009's faster function gives migration 0007's vector, hosts or not."""
    first = importlib.import_module("services.common.db.migrations.versions.0007_topics")

    texts = [c for c, _, _ in TEXTS] + [
        "e.g. this",
        "end.Next",
        "a..b",
        "mail me@example.org",
        "x.y.z.example.co.uk",
    ]
    async with engine.begin() as conn:
        await conn.execute(
            text(first.VECTOR_FUNCTION.replace("FUNCTION listening_vector", "FUNCTION pg_temp.old_vector"))
        )
        rows = await conn.execute(
            text(
                "SELECT c, listening_vector(c)::text, pg_temp.old_vector(c)::text FROM unnest(CAST(:t AS text[])) AS c"
            ),
            {"t": texts},
        )
        differ = [(c, new, old) for c, new, old in rows if new != old]
    assert differ == []
