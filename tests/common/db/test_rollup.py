"""The rollup PostgreSQL keeps (migrations 0002 and 0005): after every kind of write it holds exactly what a
GROUP BY over the posts and their analyses gives."""

import asyncio
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.common.db.engine import create_engine
from services.common.db.migrate import upgrade, wait_for_database
from services.common.db.models import SentimentAnalysis, SentimentRollup, SocialMediaPost, its_post
from services.common.labels import Emotion, Sentiment

# Three days ago, whenever the tests run (a post is stored only in the days kept).
START = (datetime.now(UTC) - timedelta(days=3)).replace(hour=9, minute=58, second=0, microsecond=0)
Key = tuple[str, datetime, str, str, str, str]  # grain, bucket, source, lang, sentiment, emotion


def truncate(moment: datetime, grain: str) -> datetime:
    moment = moment.astimezone(UTC).replace(second=0, microsecond=0)
    return moment.replace(minute=0) if grain == "hour" else moment


async def add(session: AsyncSession, count: int, seed: int, prefix: str) -> None:
    """``count`` analysed posts at random times over 3 hours (some on the minute), in batches, as the
    worker writes them."""
    for chunk in generated(count, seed, prefix):
        session.add_all(SocialMediaPost(**post) for post, _ in chunk)
        await session.flush()
        session.add_all(SentimentAnalysis(**analysis) for _, analysis in chunk)
        await session.commit()


Row = dict[str, object]


def generated(count: int, seed: int, prefix: str) -> list[list[tuple[Row, Row]]]:
    """The posts and analyses of ``add``, in batches of 25."""
    rng = random.Random(seed)
    batches = []
    for first in range(0, count, 25):
        batch = []
        for i in range(first, min(first + 25, count)):
            created = START + timedelta(seconds=rng.choice([0, 60, rng.uniform(0, 3 * 3600)]))
            post: Row = {
                "post_id": f"{prefix}-{i}",
                "source": rng.choice(["twitter", "reddit"]),
                "content": "text",
                "author": "someone",
                "created_at": created,
                "lang": rng.choice(["en", "fr", "und", None]),  # None: a post stored before languages
            }
            analysis: Row = {
                "post_id": f"{prefix}-{i}",
                "created_at": created,
                "model_name": "minilm-bundle@2",
                "sentiment_label": rng.choice(list(Sentiment)),
                "confidence_score": round(rng.random(), 4),
                "emotion": rng.choice(list(Emotion)),
            }
            batch.append((post, analysis))
        batches.append(batch)
    return batches


async def expected(engine: AsyncEngine) -> tuple[Counter[Key], dict[Key, float]]:
    posts: Counter[Key] = Counter()
    confidence: dict[Key, float] = {}
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(
                SocialMediaPost.created_at,
                SocialMediaPost.source,
                SocialMediaPost.lang,
                SentimentAnalysis.sentiment_label,
                SentimentAnalysis.emotion,
                SentimentAnalysis.confidence_score,
            ).join(SentimentAnalysis, its_post())
        )
        for created, source, lang, sentiment, emotion, score in rows:
            for grain in ("minute", "hour"):
                key = (grain, truncate(created, grain), source, lang or "", str(sentiment), str(emotion))
                posts[key] += 1
                confidence[key] = confidence.get(key, 0.0) + score
    return posts, confidence


async def rolled_up(engine: AsyncEngine) -> tuple[Counter[Key], dict[Key, float]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(SentimentRollup).where(SentimentRollup.posts > 0))).all()
    keys = [(r.grain, r.bucket, r.source, r.lang, str(r.sentiment_label), str(r.emotion)) for r in rows]
    return (
        Counter({key: r.posts for key, r in zip(keys, rows, strict=True)}),
        {key: r.confidence_sum for key, r in zip(keys, rows, strict=True)},
    )


async def assert_rollup_matches(engine: AsyncEngine) -> None:
    want_posts, want_confidence = await expected(engine)
    got_posts, got_confidence = await rolled_up(engine)
    assert got_posts == want_posts
    assert got_confidence == pytest.approx(want_confidence)


async def test_inserts_add_to_both_grains(session: AsyncSession, engine: AsyncEngine) -> None:
    await add(session, 200, seed=1, prefix="a")
    await assert_rollup_matches(engine)
    async with engine.connect() as conn:
        grains = dict(
            (
                await conn.execute(
                    select(SentimentRollup.grain, func.sum(SentimentRollup.posts)).group_by(
                        SentimentRollup.grain
                    )
                )
            ).all()
        )
    assert grains == {"minute": 200, "hour": 200}


async def test_a_redelivered_post_is_not_counted_twice(session: AsyncSession, engine: AsyncEngine) -> None:
    await add(session, 30, seed=2, prefix="b")
    async with engine.begin() as conn:  # what the worker runs for a batch it has already stored
        await conn.execute(
            text(
                "INSERT INTO sentiment_analysis"
                " (post_id, created_at, model_name, sentiment_label, confidence_score, emotion)"
                " SELECT post_id, created_at, 'again', 'negative', 0.5, 'anger' FROM sentiment_analysis"
                " ON CONFLICT (post_id, created_at) DO NOTHING"
            )
        )
    await assert_rollup_matches(engine)


async def test_deleting_posts_or_analyses_takes_them_out(session: AsyncSession, engine: AsyncEngine) -> None:
    await add(session, 150, seed=3, prefix="c")
    async with engine.begin() as conn:
        await conn.execute(
            delete(SocialMediaPost).where(SocialMediaPost.post_id.like("c-1%"))
        )  # and their analyses
    await assert_rollup_matches(engine)
    async with engine.begin() as conn:
        await conn.execute(delete(SentimentAnalysis).where(SentimentAnalysis.post_id.like("c-2%")))
    await assert_rollup_matches(engine)
    async with engine.connect() as conn:
        left = await conn.scalar(
            select(func.sum(SentimentRollup.posts)).where(SentimentRollup.grain == "hour")
        )
        assert left == await conn.scalar(select(func.count()).select_from(SentimentAnalysis))


async def test_a_truncate_empties_it(session: AsyncSession, engine: AsyncEngine) -> None:
    await add(session, 20, seed=4, prefix="d")
    async with engine.begin() as conn:
        await conn.execute(text("TRUNCATE social_media_posts, sentiment_analysis, post_ids"))
        assert await conn.scalar(select(func.count()).select_from(SentimentRollup)) == 0


def test_the_migrations_fill_it_from_the_posts_already_there(scratch_url: str) -> None:
    """0002 counts the posts of before the rollup; 0005 copies them into partitions, counted once."""
    asyncio.run(wait_for_database(scratch_url, timeout_s=10))
    upgrade(scratch_url, "0001")  # before the rollup, and before the partitions

    async def fill() -> None:
        engine = create_engine(scratch_url)
        async with engine.begin() as conn:
            for chunk in generated(120, seed=5, prefix="e"):
                await conn.execute(
                    text(
                        "INSERT INTO social_media_posts (post_id, source, content, author, created_at)"
                        " VALUES (:post_id, :source, :content, :author, :created_at)"
                    ),
                    [post for post, _ in chunk],
                )
                await conn.execute(
                    text(
                        "INSERT INTO sentiment_analysis"
                        " (post_id, model_name, sentiment_label, confidence_score, emotion)"
                        " VALUES (:post_id, :model_name, :sentiment_label, :confidence_score, :emotion)"
                    ),
                    [
                        {**a, "sentiment_label": str(a["sentiment_label"]), "emotion": str(a["emotion"])}
                        for _, a in chunk
                    ],
                )
        await engine.dispose()

    async def check() -> None:
        engine = create_engine(scratch_url)
        await assert_rollup_matches(engine)
        async with engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(SocialMediaPost)) == 120
        await engine.dispose()

    asyncio.run(fill())
    upgrade(scratch_url)
    asyncio.run(check())
