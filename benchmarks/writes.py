"""``python -m benchmarks.writes``: what the rollup costs the worker's writes, on a large table.

Run ``python -m benchmarks.seed`` first. Batches of 64 new posts (three sources, the current minute, as the
feed makes them) are written the way the worker writes them (``services.worker.store.write``: posts and
analyses in one transaction), ``--batches`` times with the rollup's insert trigger and as many times with it
disabled (every user trigger of the two tables), alternating rounds to even out the machine's noise; the
posts are deleted afterwards, each the way it was written, so the rollup stays exact.
"""

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.report import table, update_section, write_json
from benchmarks.seed import bench_database_url
from services.common.db.engine import create_engine, session_factory
from services.common.labels import Emotion, Sentiment
from services.common.timestamps import utcnow
from services.worker.store import StoredPost, write

BATCH = 64
WITH, WITHOUT = "bench-write-on-", "bench-write-off-"
LABELS = [("positive", "joy"), ("negative", "anger"), ("neutral", "neutral")]


def batch(prefix: str) -> list[StoredPost]:
    now = utcnow()
    rows = []
    for i in range(BATCH):
        sentiment, emotion = LABELS[i % 3]
        rows.append(
            StoredPost(
                post_id=f"{prefix}{uuid.uuid4().hex}",
                source=["twitter", "reddit", "threads"][i % 3],
                content="a post of the write benchmark",
                author="bench",
                created_at=now - timedelta(seconds=i),
                ingested_at=now,
                model_name="bench",
                sentiment_label=Sentiment(sentiment),
                confidence_score=0.8,
                emotion=Emotion(emotion),
                analyzed_at=now,
            )
        )
    return rows


async def remove(engine: AsyncEngine, prefix: str) -> None:
    """The posts a benchmark wrote, by their ids' prefix. Each table by name: with the user triggers off, a
    post's delete takes neither its analysis nor its registry row with it."""
    async with engine.begin() as conn:
        for table in ("sentiment_analysis", "social_media_posts", "post_ids"):
            await conn.execute(text(f"DELETE FROM {table} WHERE post_id LIKE '{prefix}%'"))  # noqa: S608


async def measure(database_url: str, batches: int, rounds: int) -> dict[str, list[float]]:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    times: dict[str, list[float]] = {"with the rollup trigger": [], "without it": []}

    async def triggers(on: bool) -> None:
        verb = "ENABLE" if on else "DISABLE"
        async with engine.begin() as conn:
            for table in ("sentiment_analysis", "social_media_posts"):
                await conn.execute(text(f"ALTER TABLE {table} {verb} TRIGGER USER"))

    try:
        for _ in range(rounds):
            for name, on in (("with the rollup trigger", True), ("without it", False)):
                await triggers(on)
                for _ in range(batches // rounds):
                    rows = batch(WITH if on else WITHOUT)
                    async with sessions() as session:
                        started = time.perf_counter()
                        await write(session, rows)
                        times[name].append((time.perf_counter() - started) * 1000)
    finally:
        # What was written without the triggers goes without them, so the rollup stays exact.
        await triggers(False)
        await remove(engine, WITHOUT)
        await triggers(True)
        await remove(engine, WITH)
        await engine.dispose()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=300, help="batches of 64 per variant")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="default: sentiment_bench beside DATABASE_URL's")
    args = parser.parse_args()
    times = asyncio.run(measure(args.database_url or bench_database_url(), args.batches, args.rounds))
    found = {
        name: {
            "p50_ms": round(statistics.median(t), 1),
            "p95_ms": round(statistics.quantiles(t, n=20)[-1], 1),
            "posts_per_s": round(BATCH * len(t) / (sum(t) / 1000)),
        }
        for name, t in times.items()
    }
    rows = [(name, f["p50_ms"], f["p95_ms"], f"{f['posts_per_s']:,}") for name, f in found.items()]
    markdown = table([f"a batch of {BATCH} posts written", "p50 ms", "p95 ms", "posts/s"], rows)
    print(markdown)
    write_json("writes", {"batch": BATCH, "batches": args.batches, "variants": found})
    update_section(
        "writes",
        "### The worker's writes, with and without the rollup trigger\n\n"
        "`python -m benchmarks.seed && python -m benchmarks.writes`\n\n" + markdown,
    )


if __name__ == "__main__":
    main()
