"""``python -m benchmarks.retention``: what the day partitions cost on disk, and what dropping a day costs.

Run ``python -m benchmarks.seed`` first (its posts spread over ``--days``). It reports each table's size
(heap and indexes) per million posts, then drops the oldest seeded day the way the maintenance does
(``services.common.db.partitions.maintain``, with the retention set so that exactly that day has expired;
DETACH CONCURRENTLY, then DROP, analyses before posts) while a writer stores batches of 64 new posts the
way the worker does. The writer's latency during the drop is set beside its latency for as long just
before. The oldest day's posts are gone afterwards: seed again for a run that needs them.
"""

import argparse
import asyncio
import statistics
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import asyncpg
from sqlalchemy import make_url

from benchmarks.report import table, update_section, write_json
from benchmarks.seed import bench_database_url
from benchmarks.writes import batch, remove
from services.common.db.engine import create_engine, session_factory
from services.common.db.partitions import (
    ANALYSES,
    DAY,
    DROP_GRACE,
    POSTS,
    maintain,
    midnight,
)
from services.worker.store import write

PREFIX = "bench-retention-"
TABLES = (POSTS, ANALYSES, "post_ids", "sentiment_rollup")


@dataclass
class Found:
    posts: int
    sizes: dict[str, tuple[int, int]]
    posts_in_day: int
    posts_after: int
    dropped: list[str]
    seconds_per_drop: list[float]
    maintenance_s: float
    forgotten_ids: int
    writes_ms: dict[str, list[float]]


async def sizes(conn: asyncpg.Connection) -> tuple[int, dict[str, tuple[int, int]]]:
    """How many posts, and each table's (heap, indexes) bytes, its partitions summed."""
    posts = int(await conn.fetchval(f"SELECT count(*) FROM {POSTS}"))  # noqa: S608
    found = {}
    for name in TABLES:
        heap, indexes = await conn.fetchrow(
            "SELECT coalesce(sum(pg_table_size(c.oid)), 0), coalesce(sum(pg_indexes_size(c.oid)), 0)"
            " FROM pg_class AS c WHERE c.oid = $1::regclass"
            " OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = $1::regclass)",
            name,
        )
        found[name] = (int(heap), int(indexes))
    return posts, found


def retention_dropping_oldest(oldest: datetime, now: datetime) -> int:
    """The retention in days under which the day starting at ``oldest`` has expired, and the next has not."""
    return int((now - DROP_GRACE - oldest - DAY) / DAY)


async def measure(database_url: str, settle_s: float) -> Found:
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn, timeout=10)
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    try:
        posts, before = await sizes(conn)
        first: datetime | None = await conn.fetchval(f"SELECT min(created_at) FROM {POSTS}")  # noqa: S608
        if first is None:
            raise SystemExit("no posts: run python -m benchmarks.seed first")
        oldest = first.astimezone(UTC).date()
        in_day = int(
            await conn.fetchval(
                f"SELECT count(*) FROM {POSTS} WHERE created_at >= $1 AND created_at < $2",  # noqa: S608
                midnight(oldest),
                midnight(oldest) + DAY,
            )
        )
        now = datetime.now(UTC)
        retention = retention_dropping_oldest(midnight(oldest), now)
        if retention < 1:
            raise SystemExit("the oldest partition is today's: seed over more than one day")
        latencies: dict[str, list[float]] = {"before the drop": [], "during the drop": []}
        phase = "before the drop"
        stop = asyncio.Event()

        async def writer() -> None:
            while not stop.is_set():
                rows = batch(PREFIX)
                async with sessions() as session:
                    started = time.perf_counter()
                    await write(session, rows)
                    latencies[phase].append((time.perf_counter() - started) * 1000)

        writing = asyncio.create_task(writer())
        await asyncio.sleep(settle_s)
        phase = "during the drop"
        started = time.perf_counter()
        report = await maintain(conn, now, retention, rollup_retention_days=max(retention, 10_000))
        drop_s = time.perf_counter() - started
        stop.set()
        await writing
        assert report is not None, "another maintenance holds the lock"
        posts_after = int(
            await conn.fetchval(f"SELECT count(*) FROM {POSTS} WHERE post_id NOT LIKE $1", PREFIX + "%")  # noqa: S608
        )
    finally:
        await remove(engine, PREFIX)
        await engine.dispose()
        await conn.close()
    return Found(
        posts,
        before,
        in_day,
        posts_after,
        report.dropped,
        report.seconds_per_drop,
        drop_s,
        report.forgotten_ids,
        latencies,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settle-s", type=float, default=5.0, help="writes measured before the drop")
    parser.add_argument("--database-url", default=None, help="default: sentiment_bench beside DATABASE_URL's")
    args = parser.parse_args()
    found = asyncio.run(measure(args.database_url or bench_database_url(), args.settle_s))
    per_million, mib = 1_000_000 / max(found.posts, 1), 1024 * 1024
    size_rows = [
        (name, f"{heap * per_million / mib:,.0f}", f"{indexes * per_million / mib:,.0f}")
        for name, (heap, indexes) in found.sizes.items()
    ]
    sizes_md = table([f"per million posts ({found.posts:,} seeded)", "heap MiB", "indexes MiB"], size_rows)
    write_rows = [
        (
            name,
            len(t),
            f"{statistics.median(t):.1f}",
            f"{statistics.quantiles(t, n=20)[-1]:.1f}",
            f"{max(t):.1f}",
        )
        for name, t in found.writes_ms.items()
        if t
    ]
    writes_md = table(["a batch of 64 posts written", "batches", "p50 ms", "p95 ms", "max ms"], write_rows)
    drops_ms = [seconds * 1000 for seconds in found.seconds_per_drop]
    drop_md = (
        f"Dropped every day up to the oldest seeded one ({found.posts_in_day:,} posts in it; "
        f"{found.posts:,} before, {found.posts_after:,} after): {len(found.dropped)} partitions, "
        f"{statistics.median(drops_ms):,.0f} ms each at the median, {max(drops_ms):,.0f} ms at most; "
        f"the whole maintenance run {found.maintenance_s:.2f} s ({found.forgotten_ids:,} post_ids forgotten)."
    )
    markdown = f"{sizes_md}\n\n{drop_md}\n\n{writes_md}"
    print(markdown)
    write_json("retention", asdict(found))
    update_section(
        "retention",
        "### Day partitions: size per million posts, and a day dropped under writes\n\n"
        "`python -m benchmarks.seed --days 30 && python -m benchmarks.retention`\n\n" + markdown,
    )


if __name__ == "__main__":
    main()
