"""Posts, analyses, topic tags and terms in one partition per UTC day of ``created_at``, and the maintenance that
keeps them: days made ahead, days past RETENTION_DAYS dropped, both rollups' buckets past
ROLLUP_RETENTION_DAYS deleted.

python -m services.common.db.partitions               # once (a cron job, a Kubernetes CronJob)
python -m services.common.db.partitions --every       # on a timer, until stopped: every
                                                      # PARTITION_MAINTENANCE_EVERY_S (or --every SECONDS)

Run it as the schema owner, the role that runs the migrations (DATABASE_URL); the services' roles cannot
create or drop tables. Only one maintenance runs at a time (an advisory lock: a second one says so and
leaves). Nothing it does blocks a write (docs/storage.md, measured in benchmarks/retention.py):

- a day is made as a table of its own, given the CHECK constraint of its bounds, then ATTACHed: the attach
  takes only a SHARE UPDATE EXCLUSIVE lock on the parent, and the constraint spares it the scan;
- a day is dropped by DETACH ... CONCURRENTLY, then DROP of the table it leaves: terms, tags and analyses
  before posts, so none outlives its post. A detach that was interrupted is finished (FINALIZE) on the next run, and
  the table dropped if its day is past, attached again if not.
- ``post_ids``, the registry that keeps a post_id stored once, forgets the dropped days' ids afterwards;
  ``post_tombstones`` forgets the deletes older than TOMBSTONE_DAYS.

A DROP fires no trigger: the rollup keeps counting the days dropped, as intended.
"""

import argparse
import asyncio
import contextlib
import logging
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import asyncpg
from sqlalchemy.engine import make_url

from services.common.cli import start
from services.common.settings import Settings

log = logging.getLogger("partitions")

POSTS, ANALYSES, TAGS, TERMS = "social_media_posts", "sentiment_analysis", "post_topics", "post_terms"
# Dropped in this order (an analysis, a topic tag or a term never outlives its post); made in the reverse one.
PARTITIONED = (TERMS, TAGS, ANALYSES, POSTS)
DAY = timedelta(days=1)
# Days made ahead of today: a post may be dated up to an hour ahead, and maintenance may miss a run or two.
AHEAD_DAYS = 3
# A day is dropped this long after it left the window, so that a worker whose clock is behind the
# database's never meets a post of the window whose partition is already gone.
DROP_GRACE = timedelta(hours=1)
# Maintenance's advisory lock (an arbitrary key of this platform's: "sl-parts").
LOCK_KEY = 0x736C_7061_7274
FORGET_BATCH = 10_000
_NAME = re.compile(rf"^({'|'.join(PARTITIONED)})_(\d{{8}})$")


def partition_name(table: str, day: date) -> str:
    return f"{table}_{day:%Y%m%d}"


def is_partition(name: str) -> bool:
    """A day's partition of the posts, the analyses or the topic tags (the models know only the parents)."""
    return _NAME.match(name) is not None


def day_of(name: str) -> date:
    match = _NAME.match(name)
    if match is None:
        raise ValueError(f"{name!r} is not a day's partition")
    return datetime.strptime(match.group(2), "%Y%m%d").replace(tzinfo=UTC).date()


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def window(now: datetime, retention_days: int) -> tuple[date, date]:
    """The first and last days that must have partitions: those of posts kept (``created_at`` from
    ``now - retention_days``) up to AHEAD_DAYS ahead."""
    return (now - timedelta(days=retention_days)).date(), (now + timedelta(days=AHEAD_DAYS)).date()


def expired(day: date, now: datetime, retention_days: int) -> bool:
    """Whether the whole day is past the retention window (and its grace)."""
    return midnight(day) + DAY <= now - timedelta(days=retention_days) - DROP_GRACE


@dataclass
class Report:
    made: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    forgotten_ids: int = 0
    forgotten_tombstones: int = 0
    rollup_rows_deleted: int = 0
    seconds_per_drop: list[float] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"made {len(self.made)} partitions, dropped {len(self.dropped)}, forgot {self.forgotten_ids} "
            f"post_ids and {self.forgotten_tombstones} tombstones, deleted {self.rollup_rows_deleted} rollup rows"
        )


async def attached(conn: asyncpg.Connection, table: str) -> dict[str, bool]:
    """The table's partitions, each with whether a detach of it is pending (interrupted)."""
    rows = await conn.fetch(
        "SELECT c.relname, i.inhdetachpending FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = $1::regclass",
        table,
    )
    return {row["relname"]: row["inhdetachpending"] for row in rows}


async def make(conn: asyncpg.Connection, table: str, day: date) -> str:
    """The day's partition of ``table``: created on its own, then attached (no lock that stops writes)."""
    name, low, high = partition_name(table, day), midnight(day), midnight(day) + DAY
    bounds = f"'{low.isoformat()}'::timestamptz", f"'{high.isoformat()}'::timestamptz"
    async with conn.transaction():
        # IF NOT EXISTS and IF EXISTS: a run stopped between these steps is taken up where it stopped.
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {name} "
            f"(LIKE {table} INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS INCLUDING INDEXES)"
        )
        await conn.execute(f"ALTER TABLE {name} DROP CONSTRAINT IF EXISTS {name}_bounds")
        # The constraint proves every row in bounds, so the attach skips its scan; it is redundant after.
        await conn.execute(
            f"ALTER TABLE {name} ADD CONSTRAINT {name}_bounds "
            f"CHECK (created_at IS NOT NULL AND created_at >= {bounds[0]} AND created_at < {bounds[1]})"
        )
    await conn.execute(
        f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ({bounds[0]}) TO ({bounds[1]})"
    )
    await conn.execute(f"ALTER TABLE {name} DROP CONSTRAINT {name}_bounds")
    return name


async def drop(conn: asyncpg.Connection, table: str, name: str, *, attached: bool = True) -> None:
    """Detach the partition without blocking writes, then drop the table it leaves."""
    if attached:
        await conn.execute(f"ALTER TABLE {table} DETACH PARTITION {name} CONCURRENTLY")
    await conn.execute(f"DROP TABLE {name}")


async def _tables_of(conn: asyncpg.Connection, table: str) -> list[str]:
    """The days' tables of ``table``, attached or not (a run stopped midway may leave one detached)."""
    names = await conn.fetch(
        "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace "
        "AND starts_with(relname, $1) ORDER BY relname",
        table + "_",
    )
    return [row["relname"] for row in names if is_partition(row["relname"])]


async def maintain(
    conn: asyncpg.Connection,
    now: datetime,
    retention_days: int,
    rollup_retention_days: int,
    tombstone_days: int | None = None,
) -> Report | None:
    """One maintenance run on ``conn`` (outside a transaction: a concurrent detach needs one of its own).
    None if another maintenance holds the lock. Tombstones are kept ``tombstone_days`` (None: all)."""
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
        return None
    report = Report()
    try:
        for table in PARTITIONED:
            for name, pending in (await attached(conn, table)).items():
                if pending:  # a detach that was interrupted: only finishing it is allowed
                    await conn.execute(f"ALTER TABLE {table} DETACH PARTITION {name} FINALIZE")
        for table in PARTITIONED:
            have = await attached(conn, table)
            for name in await _tables_of(conn, table):
                if expired(day_of(name), now, retention_days):
                    started = time.perf_counter()
                    await drop(conn, table, name, attached=name in have)
                    report.seconds_per_drop.append(time.perf_counter() - started)
                    report.dropped.append(name)
        first, last = window(now, retention_days)
        for table in reversed(PARTITIONED):
            days = {day_of(name) for name in await attached(conn, table) if is_partition(name)}
            day = first
            while day <= last:
                if day not in days:  # made, or attached again if a stopped run left it detached
                    report.made.append(await make(conn, table, day))
                day += DAY
        since = await oldest_kept(conn)
        if since is not None:
            report.forgotten_ids = await _forget(conn, "post_ids", "created_at", since)
        if tombstone_days is not None:
            gone = now - timedelta(days=tombstone_days)
            report.forgotten_tombstones = await _forget(conn, "post_tombstones", "deleted_at", gone)
        report.rollup_rows_deleted = await _forget_buckets(conn, now - timedelta(days=rollup_retention_days))
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    return report


async def oldest_kept(conn: asyncpg.Connection) -> datetime | None:
    """The lower bound of the oldest posts' partition."""
    days = [day_of(name) for name in await attached(conn, POSTS) if is_partition(name)]
    return midnight(min(days)) if days else None


async def _forget(conn: asyncpg.Connection, table: str, column: str, before: datetime) -> int:
    """Delete the rows of ``table`` (post_ids, post_tombstones) whose ``column`` is before ``before``, a
    batch per transaction (a long DELETE would hold back vacuum; each batch locks only the rows it deletes,
    which nobody writes)."""
    total = 0
    while True:
        done = await conn.execute(
            # this module's own table and column names
            f"DELETE FROM {table} WHERE post_id IN (SELECT post_id FROM {table} WHERE {column} < $1 LIMIT $2)",  # noqa: S608
            before,
            FORGET_BATCH,
        )
        count = int(done.split()[-1])
        total += count
        if count < FORGET_BATCH:
            return total


async def _forget_buckets(conn: asyncpg.Connection, before: datetime) -> int:
    total = 0
    for rollup in ("sentiment_rollup", "topic_rollup"):
        done = await conn.execute(f"DELETE FROM {rollup} WHERE bucket < $1", before)  # noqa: S608 - ours
        total += int(done.split()[-1])
    return total


def _dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def maintain_database(
    database_url: str,
    retention_days: int,
    rollup_retention_days: int,
    now: datetime | None = None,
    tombstone_days: int | None = None,
) -> Report | None:
    """One maintenance run on the database of ``database_url`` (a SQLAlchemy URL)."""
    conn = await asyncpg.connect(_dsn(database_url), timeout=10)
    try:
        return await maintain(
            conn, now or datetime.now(UTC), retention_days, rollup_retention_days, tombstone_days
        )
    finally:
        await conn.close()


async def run_once(settings: Settings) -> Report | None:
    return await maintain_database(
        settings.database_url,
        settings.retention_days,
        settings.rollup_retention_days,
        tombstone_days=settings.tombstone_days,
    )


async def _every(settings: Settings, seconds: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set():
        try:
            _said(await run_once(settings))
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            log.error("maintenance failed, next try in %.0f s: %s", seconds, exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)


def _said(report: Report | None) -> None:
    if report is None:
        log.info("another maintenance is running: nothing done")
    else:
        log.info("%s", report)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.common.db.partitions", description=__doc__)
    parser.add_argument(
        "--every",
        type=float,
        nargs="?",
        const=0.0,
        metavar="SECONDS",
        help="run on a timer until stopped (default PARTITION_MAINTENANCE_EVERY_S)",
    )
    args = parser.parse_args(argv)
    settings = start()
    if args.every is not None:
        asyncio.run(_every(settings, args.every or settings.partition_maintenance_every_s))
        return 0
    try:
        _said(asyncio.run(run_once(settings)))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        log.error("maintenance failed: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
