"""``python -m benchmarks.seed``: load realistic analysed posts into PostgreSQL fast (COPY), for the API
benchmarks.

The posts come from the synthetic feed (sources, authors, topics, emojis as the ingester makes them), spread
evenly over the last ``--days`` days by ``created_at``; each gets the analysis its template meant (a post in
another language: neutral), a confidence between 0.4 and 1, and ``analyzed_at`` a second after it was made.
The database (``--database-url``, default ``sentiment_bench`` beside DATABASE_URL's) is created and migrated
if needed and emptied first, then VACUUMed and ANALYZEd, so the planner sees the table as it is.

Then ``--topics`` topics (20 by default; TOPICS, drawn from the feed's subjects, from a hashtag in one post
in seven to a phrase in one in a few hundred) are made and backfilled as the workers would
(services/worker/tagging.py), each one's time printed: the posts are tagged as a running platform tags them.
"""

import argparse
import asyncio
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from tqdm import tqdm

from services.common.db.engine import create_engine
from services.common.db.migrate import upgrade, wait_for_database
from services.common.settings import load_settings
from services.ingester.synthetic import Generator
from services.worker.store import ANALYSIS_COLUMNS, POST_COLUMNS
from services.worker.tagging import backfill_step

CHUNK = 50_000
# The benchmark's topics: (name, query), the feed's seven subjects first (docs/topics.md's examples).
TOPICS = [
    ("Phone launch", "#PhoneLaunch or phone or battery or camera or keynote"),
    ("Air travel", "#travel or flight or airline or lounge or baggage"),
    ("Coffee", "#coffee or café or latte or roast or barista"),
    ("Election", "#debate or debate or polls or candidate or turnout"),
    ("Streaming", '#finale or finale or series or "price increase"'),
    ("Football", "#matchday or match or referee or keeper or transfer"),
    ("Weather", '#storm or storm or heatwave or forecast or "power cut"'),
    ("Battery", "battery"),
    ("Camera", '"camera update"'),
    ("Flights", "flight -airline"),
    ("Lounges", "lounge"),
    ("Latte", "latte"),
    ("Polls", "polls or turnout"),
    ("Candidates", "candidate"),
    ("Finale", '"season finale"'),
    ("Referees", "referee"),
    ("Transfers", '"transfer news"'),
    ("Heatwave", "heatwave"),
    ("Power cuts", '"power cut"'),
    ("Phone batteries", "#PhoneLaunch battery"),
]
# Search terms in about 0.1 %, 1 % and 10 % of the seeded posts, and a two-word phrase in about 3 %.
SEARCHES = {"0.1 %": "@sunny_owl18", "1 %": "urban", "10 %": "friend", "phrase": '"power cut"'}


def topic_id(name: str) -> int:
    """A seeded topic's id: they are made in TOPICS' order, from 1."""
    return [n for n, _ in TOPICS].index(name) + 1


EMOTION_OF = {"positive": "joy", "negative": "anger", "neutral": "neutral"}


def bench_database_url() -> str:
    return make_url(load_settings().database_url).set(database="sentiment_bench").render_as_string(False)


def rows(count: int, days: float, seed: int) -> Iterator[tuple[tuple[object, ...], tuple[object, ...]]]:
    """(post row, analysis row) pairs, oldest first."""
    feed = Generator(seed=seed, run_id="bench")
    rng = random.Random(seed)
    end = datetime.now(UTC)
    span = timedelta(days=days) / count
    start = end - timedelta(days=days)
    for i in range(count):
        made = feed.next(now=start + i * span)
        post = made.post
        sentiment = made.sentiment if made.sentiment in EMOTION_OF else "neutral"
        emotion = made.emotion if made.sentiment in EMOTION_OF else "neutral"
        yield (
            # POST_COLUMNS' order; ingested_at is created_at
            (
                post.post_id,
                post.source,
                post.content,
                post.author,
                post.created_at,
                post.created_at,
                post.lang,
                post.url,
            ),
            (
                post.post_id,
                post.created_at,
                "minilm-bundle@2",
                sentiment,
                round(rng.uniform(0.4, 1.0), 4),
                emotion,
                post.created_at + timedelta(seconds=1),
            ),
        )


async def seed(database_url: str, count: int, days: float, seed: int) -> float:
    """Load ``count`` posts; the seconds it took."""
    await wait_for_database(database_url, timeout_s=30)
    await asyncio.to_thread(upgrade, database_url)
    conn = await _connect(database_url)
    started = time.perf_counter()
    try:
        await conn.execute(
            "TRUNCATE social_media_posts, sentiment_analysis, post_topics, post_terms, post_ids, post_tombstones,"
            " sentiment_alerts, topics RESTART IDENTITY CASCADE"
        )
        posts: list[tuple[object, ...]] = []
        analyses: list[tuple[object, ...]] = []
        with tqdm(total=count, unit=" posts", unit_scale=True, desc="COPY") as bar:
            for post, analysis in rows(count, days, seed):
                posts.append(post)
                analyses.append(analysis)
                if len(posts) == CHUNK:
                    await _copy(conn, posts, analyses)
                    bar.update(len(posts))
                    posts, analyses = [], []
            if posts:
                await _copy(conn, posts, analyses)
                bar.update(len(posts))
    finally:
        await conn.close()
    await settle(database_url)
    return time.perf_counter() - started


async def find_terms(database_url: str) -> tuple[int, float]:
    """Every seeded post's hashtags and mentions, written as migration 0010 writes a stored post's (the
    workers write them as they store a post); how many, and the seconds it took."""
    started = time.perf_counter()
    done = await _execute(
        database_url,
        "INSERT INTO post_terms (post_id, created_at, term) SELECT p.post_id, p.created_at, t.term"
        " FROM social_media_posts AS p, LATERAL post_terms(p.content) AS t (term)",
    )
    return int(done.split()[-1]), time.perf_counter() - started


async def make_topics(database_url: str, count: int) -> list[tuple[str, float, int]]:
    """Make the first ``count`` of TOPICS and backfill each as the workers do; (name, seconds, tags) each."""
    engine = create_engine(database_url)
    done = []
    try:
        for name, query in TOPICS[:count]:
            async with engine.begin() as conn:
                await conn.execute(
                    text("INSERT INTO topics (name, query) VALUES (:name, :query)"),
                    {"name": name, "query": query},
                )
            started, tagged = time.perf_counter(), 0
            async with engine.connect() as conn:
                while (step := await backfill_step(conn)) is not None:
                    tagged += step.tagged
            done.append((name, time.perf_counter() - started, tagged))
    finally:
        await engine.dispose()
    return done


async def forget_since(database_url: str, start: datetime) -> int:
    """Delete the posts created at or after ``start`` (what a benchmark run added: the seeded ones are older),
    so that the next run finds the table as seeded; how many there were."""
    done = await _execute(database_url, "DELETE FROM social_media_posts WHERE created_at >= $1", start)
    return int(done.split()[-1])


async def stored_since(database_url: str, start: datetime) -> dict[str, int]:
    """The posts created at or after ``start``, by source: what a benchmark run's feeds stored."""
    conn = await _connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT source, count(*) AS n FROM social_media_posts WHERE created_at >= $1 GROUP BY source",
            start,
        )
    finally:
        await conn.close()
    return {row["source"]: int(row["n"]) for row in rows}


async def settle(database_url: str) -> None:
    """VACUUM and ANALYZE the tables, as autovacuum would in time: the planner sees them as they are, and a
    benchmark run after writes (the last one's ingest mix) does not measure autovacuum at work."""
    await _execute(
        database_url,
        "VACUUM (ANALYZE) post_ids, social_media_posts, sentiment_analysis, sentiment_rollup, post_topics,"
        " topic_rollup, post_terms",
    )


async def _connect(database_url: str) -> asyncpg.Connection:
    """asyncpg straight to the database of a SQLAlchemy URL (COPY and VACUUM need no ORM)."""
    return await asyncpg.connect(make_url(database_url).set(drivername="postgresql").render_as_string(False))


async def _execute(database_url: str, statement: str, *args: object) -> str:
    conn = await _connect(database_url)
    try:
        return str(await conn.execute(statement, *args))
    finally:
        await conn.close()


async def _copy(
    conn: asyncpg.Connection, posts: list[tuple[object, ...]], analyses: list[tuple[object, ...]]
) -> None:
    async with conn.transaction():
        await conn.copy_records_to_table(
            "post_ids", records=[(post[0], post[4]) for post in posts], columns=["post_id", "created_at"]
        )
        await conn.copy_records_to_table(
            "social_media_posts",
            records=posts,
            columns=list(POST_COLUMNS),
        )
        await conn.copy_records_to_table(
            "sentiment_analysis",
            records=analyses,
            columns=list(ANALYSIS_COLUMNS),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--topics", type=int, default=20, choices=range(len(TOPICS) + 1), metavar="N")
    parser.add_argument("--database-url", default=None, help="default: sentiment_bench beside DATABASE_URL's")
    args = parser.parse_args()
    database_url = args.database_url or bench_database_url()
    seconds = asyncio.run(seed(database_url, args.posts, args.days, args.seed))
    print(
        f"{args.posts} posts over {args.days:g} days in {seconds:.1f} s ({args.posts / seconds:,.0f} posts/s)"
    )
    terms, took = asyncio.run(find_terms(database_url))
    print(f"{terms:,} hashtags and mentions found in {took:.1f} s")
    for name, took, tagged in asyncio.run(make_topics(database_url, args.topics)):
        print(f"topic {name!r}: {tagged:,} posts backfilled in {took:.1f} s")
    asyncio.run(settle(database_url))


if __name__ == "__main__":
    main()
