"""``/api/health``'s parts: probes of the services, the table counts (kept like an answer), the dead
letters, and the warnings an operator should act on."""

import asyncio
import contextlib
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any, TypeVar

import redis.asyncio as aioredis
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.backend.aggregation import Filters, SentimentAggregator
from services.backend.cache import AnswerCache
from services.backend.schemas import Stats
from services.common.db.models import DeadLetter, SentimentAnalysis, SocialMediaPost
from services.common.names import RedisNames
from services.common.redis import PERSISTENCE_WARNING, Persistence
from services.common.sources import SourceStatus
from services.common.timestamps import utcnow

EXACT_COUNT_BELOW = 100_000  # rows; above it /api/health reports PostgreSQL's estimate, not COUNT(*)
PROBE_TIMEOUT_S = 3.0
T = TypeVar("T")
U = TypeVar("U")


async def answers(check: Awaitable[Any]) -> bool:
    """Whether a probe succeeds within PROBE_TIMEOUT_S; any failure means disconnected."""
    return bool(await within(check, False))


async def within(check: Awaitable[T], otherwise: U) -> T | U:
    """A probe's value within PROBE_TIMEOUT_S, or ``otherwise`` when it fails."""
    try:
        return await asyncio.wait_for(check, PROBE_TIMEOUT_S)
    except Exception:  # noqa: BLE001 - a failed probe reports what it could not find out
        return otherwise


async def given(value: T) -> T:
    """``value``, as a probe that was not asked."""
    return value


async def dead_letters(engine: AsyncEngine) -> int:
    return await row_count(engine, DeadLetter.__tablename__)


async def sources(redis: aioredis.Redis, names: RedisNames) -> list[SourceStatus]:
    """What each live source last reported (services/common/sources.py), by label; one that cannot be read
    (written by another version) is left out."""
    found = []
    for _, raw in sorted((await redis.hgetall(names.source_status)).items()):
        with contextlib.suppress(ValidationError):
            found.append(SourceStatus.model_validate_json(raw))
    return found


def warnings(
    persistence: Persistence | None,
    dead_letters: int | None,
    degraded_at: int,
    reported: list[SourceStatus] | None = None,
) -> list[str]:
    found = [PERSISTENCE_WARNING[persistence]] if persistence in PERSISTENCE_WARNING else []
    if dead_letters is not None and dead_letters >= degraded_at:
        found.append(
            f"{dead_letters} posts are dead letters (DEAD_LETTERS_DEGRADED_AT is {degraded_at}): see why "
            "with python -m services.worker dead-letters, then redrive or delete them."
        )
    found += [w for w in (source.warning() for source in reported or []) if w]
    return found


async def database_answers(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return True


# PostgreSQL's row estimate of a table: of a partitioned one, the sum of its partitions' (autovacuum analyses
# the partitions, never the parent, whose own estimate stays -1); a table never analysed has none (-1).
ESTIMATE = text(
    "SELECT CASE WHEN t.relkind = 'p' THEN (SELECT sum(greatest(c.reltuples, 0)) FROM pg_inherits AS i"
    " JOIN pg_class AS c ON c.oid = i.inhrelid WHERE i.inhparent = t.oid) ELSE t.reltuples END::bigint"
    " FROM pg_class AS t WHERE t.oid = CAST(:table AS regclass)"
)


async def row_count(engine: AsyncEngine, table: str) -> int:
    """Rows in ``table``: PostgreSQL's estimate on a large table, an exact count on a small one."""
    async with engine.connect() as conn:
        estimate = await conn.scalar(ESTIMATE, {"table": table})
        if estimate is not None and estimate >= EXACT_COUNT_BELOW:
            return int(estimate)
        return int(await conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)  # noqa: S608 - a known name


async def stats(engine: AsyncEngine, aggregator: SentimentAggregator, cache: AnswerCache) -> Stats:
    """The counts, kept for CACHE_TTL_S like the aggregations (the services' states are never cached)."""

    async def count() -> bytes:
        counted = Stats(
            total_posts=await row_count(engine, SocialMediaPost.__tablename__),
            total_analyses=await row_count(engine, SentimentAnalysis.__tablename__),
            recent_posts_1h=await aggregator.total(Filters(start=utcnow() - timedelta(hours=1))),
        )
        return counted.model_dump_json().encode()

    return Stats.model_validate_json(
        await cache.kept(cache.names.cache_key("/api/health", "stats"), None, count)
    )
