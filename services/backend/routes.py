"""The read endpoints: health, the post feed, the aggregations and the alerts.

Every parameter is validated (a 422 names it); time filters use the post's own ``created_at``. With API_KEY
set every route here but /api/health needs the key. Aggregation answers are kept in Redis for
CACHE_TTL_S, keyed by the request's path and query: the same question within the TTL gets the same answer.
"""

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import ColumnElement, String, and_, cast, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.backend.aggregation import EARLIEST, Filters, Period, TooManyBuckets
from services.backend.deps import Backend, api_key, backend
from services.backend.schemas import (
    Aggregate,
    Alerts,
    Analysis,
    Distribution,
    Emotions,
    Health,
    Post,
    Posts,
    Services,
    Stats,
)
from services.common.db.models import SentimentAlert, SentimentAnalysis, SocialMediaPost
from services.common.events import AlertData
from services.common.names import REDIS_DOWN
from services.common.timestamps import UtcDatetime, utcnow

T = TypeVar("T")
log = logging.getLogger("backend")
EXACT_COUNT_BELOW = 100_000  # rows; above it /api/health reports PostgreSQL's estimate, not COUNT(*)
DEFAULT_SPAN = timedelta(hours=24)  # of the time series when start_date is not given
Timestamp = UtcDatetime  # a query parameter: ISO 8601 with an offset, held in UTC
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"  # no control characters (PostgreSQL refuses NUL in text)

health_router = APIRouter()
router = APIRouter(dependencies=[Depends(api_key)])


async def _up(check: Any) -> bool:
    try:
        return bool(await asyncio.wait_for(check, 3))
    except Exception:  # noqa: BLE001 - any failure of a health probe means "disconnected"
        return False


async def _count(engine: AsyncEngine, table: str) -> int:
    """Rows in ``table``: PostgreSQL's estimate on a large table, an exact count on a small one."""
    async with engine.connect() as conn:
        estimate = await conn.scalar(
            text("SELECT reltuples::bigint FROM pg_class WHERE oid = CAST(:table AS regclass)"),
            {"table": table},
        )
        if estimate is not None and estimate >= EXACT_COUNT_BELOW:
            return int(estimate)
        return int(await conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)  # noqa: S608 - a known name


async def _stats(b: Backend) -> Stats:
    """The counts, kept for CACHE_TTL_S like the aggregations (the services' states are never cached)."""

    async def count() -> bytes:
        engine = b.reads
        stats = Stats(
            total_posts=await _count(engine, SocialMediaPost.__tablename__),
            total_analyses=await _count(engine, SentimentAnalysis.__tablename__),
            recent_posts_1h=await b.aggregator.total(Filters(start=utcnow() - timedelta(hours=1))),
        )
        return stats.model_dump_json().encode()

    return Stats.model_validate_json(
        await _remembered(b, b.names.cache_key("/api/health", "stats"), None, count)
    )


async def _database_up(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return True


@dataclass(frozen=True)
class TimeRange:
    period: Period
    start: datetime
    end: datetime
    source: str | None


async def time_range(
    period: Annotated[Period, Query()] = "hour",
    start_date: Annotated[Timestamp | None, Query(description="ISO 8601; default end_date - 24 h")] = None,
    end_date: Annotated[Timestamp | None, Query(description="ISO 8601; default now")] = None,
    source: Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)] = None,
) -> TimeRange:
    """The buckets asked for; by default the last 24 hours (or the 24 before end_date)."""
    end = end_date or utcnow()
    start = start_date or max(end, EARLIEST + DEFAULT_SPAN) - DEFAULT_SPAN
    in_order(start, end)
    return TimeRange(period, start, end, source)


def in_order(start: datetime | None, end: datetime | None) -> None:
    """A 422 naming start_date when it is after end_date."""
    if start and end and start > end:
        raise HTTPException(422, [{"loc": ["query", "start_date"], "msg": "start_date is after end_date"}])


async def cached(
    b: Backend, request: Request, build: Callable[[], Awaitable[BaseModel]], ttl: float | None = None
) -> Response:
    """The answer to this path and query: from Redis when asked within ``ttl`` seconds (CACHE_TTL_S unless
    given), else built and kept. Without Redis every answer is built."""
    query = "&".join(f"{k}={v}" for k, v in sorted(request.query_params.multi_items()))
    key = b.names.cache_key(request.url.path, hashlib.sha1(query.encode(), usedforsecurity=False).hexdigest())
    body = await _remembered(b, key, ttl, lambda: _json(build))
    return Response(body, media_type="application/json")


async def _json(build: Callable[[], Awaitable[BaseModel]]) -> bytes:
    return (await build()).model_dump_json().encode()


async def _remembered(
    b: Backend, key: str, ttl: float | None, build: Callable[[], Awaitable[bytes]]
) -> bytes:
    """The bytes kept under ``key``, or ``build()``'s, then kept for ``ttl`` s (default CACHE_TTL_S)."""
    ttl = b.settings.cache_ttl_s if ttl is None else ttl
    if not ttl:
        return await build()
    try:
        hit = await b.redis.get(key)
    except REDIS_DOWN as exc:
        log.warning("answer cache unavailable (Redis: %s)", exc)
        hit = None
    if hit is not None:
        return hit if isinstance(hit, bytes) else hit.encode()
    # One build per key at a time in this process: those asking while it runs wait for it (a page that
    # expired while many viewers ask for it is read once, not once by each).
    building = b.building.get(key)
    if building is None:
        building = b.building[key] = asyncio.create_task(_keep(b, key, ttl, build))
        building.add_done_callback(lambda _: b.building.pop(key, None))
    return await asyncio.shield(building)  # one caller giving up does not cancel the others' answer


async def _keep(b: Backend, key: str, ttl: float, build: Callable[[], Awaitable[bytes]]) -> bytes:
    body = await build()
    with contextlib.suppress(*REDIS_DOWN):
        await b.redis.set(key, body, px=int(ttl * 1000))
    return body


async def over_time(call: Awaitable[T]) -> T:
    try:
        return await call
    except TooManyBuckets as exc:
        raise HTTPException(422, [{"loc": ["query", "period"], "msg": str(exc)}]) from exc


@health_router.get("/api/health", response_model=Health)
async def health(b: Annotated[Backend, Depends(backend)]) -> JSONResponse:
    """The services' state and the table counts. ``total_posts`` and ``total_analyses`` are PostgreSQL's
    estimates (``pg_class.reltuples``) once a table passes 100,000 rows, exact below."""
    database, redis_up, triton = await asyncio.gather(
        _up(_database_up(b.reads)), _up(b.redis.ping()), _up(b.triton.healthy())
    )
    stats = await _stats(b) if database else None
    status = "unhealthy" if not database else "healthy" if redis_up and triton else "degraded"
    body = Health(
        status=status,
        timestamp=utcnow(),
        services=Services(
            database="connected" if database else "disconnected",
            redis="connected" if redis_up else "disconnected",
            triton="connected" if triton else "disconnected",
        ),
        stats=stats,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=503 if status == "unhealthy" else 200)


@router.get("/api/posts", response_model=Posts)
async def posts(
    request: Request,
    b: Annotated[Backend, Depends(backend)],
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    source: Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)] = None,
    sentiment: Annotated[str | None, Query(max_length=32, pattern=PRINTABLE)] = None,
    emotion: Annotated[str | None, Query(max_length=32, pattern=PRINTABLE)] = None,
    start_date: Annotated[Timestamp | None, Query(description="ISO 8601 with an offset")] = None,
    end_date: Annotated[Timestamp | None, Query(description="ISO 8601 with an offset")] = None,
    before: Annotated[
        str | None,
        Query(
            max_length=128,
            pattern=PRINTABLE,
            description="a post_id: only posts older than it (stable paging)",
        ),
    ] = None,
) -> Response:
    """Posts with their analyses, newest first (by ``created_at``). Unknown sources or labels match
    nothing. ``before`` pages a live feed without skipping or repeating: pass the last post_id seen. A page
    is kept for FEED_CACHE_TTL_S (1 s): viewers asking for the same page within it share one query."""
    in_order(start_date, end_date)

    async def build() -> Posts:
        return await _page(b, limit, offset, source, sentiment, emotion, start_date, end_date, before)

    return await cached(b, request, build, b.settings.feed_cache_ttl_s)


async def _page(
    b: Backend,
    limit: int,
    offset: int,
    source: str | None,
    sentiment: str | None,
    emotion: str | None,
    start_date: datetime | None,
    end_date: datetime | None,
    before: str | None,
) -> Posts:
    where: list[ColumnElement[bool]] = []
    if source:
        where.append(SocialMediaPost.source == source)
    if sentiment:
        where.append(cast(SentimentAnalysis.sentiment_label, String) == sentiment)
    if emotion:
        where.append(cast(SentimentAnalysis.emotion, String) == emotion)
    if start_date:
        where.append(SocialMediaPost.created_at >= start_date)
    if end_date:
        where.append(SocialMediaPost.created_at <= end_date)
    # The total (from the rollup) is counted on another connection while the page is read.
    counting = asyncio.create_task(
        b.aggregator.total(Filters(start_date, end_date, source, sentiment, emotion))
    )
    try:
        found = await _rows(b, where, before, limit, offset)
    finally:
        total = await counting
    filters = {
        "source": source,
        "sentiment": sentiment,
        "emotion": emotion,
        "start_date": start_date,
        "end_date": end_date,
        "before": before,
    }
    return Posts(posts=found, total=total, limit=limit, offset=offset, filters=filters)


async def _rows(
    b: Backend, where: list[ColumnElement[bool]], before: str | None, limit: int, offset: int
) -> list[Post]:
    async with b.reads.connect() as conn:
        page = where.copy()
        if before:
            anchor = (
                await conn.execute(
                    select(SocialMediaPost.created_at, SocialMediaPost.id).where(
                        SocialMediaPost.post_id == before
                    )
                )
            ).first()
            if anchor is None:
                raise HTTPException(
                    422,
                    [
                        {
                            "loc": ["query", "before"],
                            "msg": f"no post {before!r}: pass a post_id you were given",
                        }
                    ],
                )
            page.append(
                or_(
                    SocialMediaPost.created_at < anchor.created_at,
                    and_(SocialMediaPost.created_at == anchor.created_at, SocialMediaPost.id < anchor.id),
                )
            )
        rows = await conn.execute(
            select(
                *SocialMediaPost.__table__.c,
                SentimentAnalysis.sentiment_label,
                SentimentAnalysis.confidence_score,
                SentimentAnalysis.emotion,
                SentimentAnalysis.model_name,
            )
            .join(SentimentAnalysis, SentimentAnalysis.post_id == SocialMediaPost.post_id)
            .where(*page)
            .order_by(SocialMediaPost.created_at.desc(), SocialMediaPost.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [
            Post(
                post_id=r.post_id,
                source=r.source,
                content=r.content,
                author=r.author,
                created_at=r.created_at,
                sentiment=Analysis(
                    label=str(r.sentiment_label),
                    confidence=r.confidence_score,
                    emotion=str(r.emotion),
                    model_name=r.model_name,
                ),
            )
            for r in rows
        ]


@router.get("/api/sentiment/aggregate", response_model=Aggregate)
async def aggregate(
    request: Request, b: Annotated[Backend, Depends(backend)], r: Annotated[TimeRange, Depends(time_range)]
) -> Response:
    """Sentiment counts and shares per bucket of ``created_at`` (UTC), empty buckets included with
    zeros; at most 1,500 buckets. Percentages are rounded to 2 places and sum to 100 in a bucket with
    posts."""

    async def build() -> Aggregate:
        data = await over_time(b.aggregator.sentiment_over_time(r.start, r.end, r.period, r.source))
        summary = {
            "total_posts": sum(d["total_count"] for d in data),
            "positive_total": sum(d["positive_count"] for d in data),
            "negative_total": sum(d["negative_count"] for d in data),
            "neutral_total": sum(d["neutral_count"] for d in data),
        }
        return Aggregate(period=r.period, start_date=r.start, end_date=r.end, data=data, summary=summary)

    return await cached(b, request, build)


@router.get("/api/sentiment/distribution", response_model=Distribution)
async def distribution(
    request: Request,
    b: Annotated[Backend, Depends(backend)],
    hours: Annotated[int, Query(ge=1, le=168)] = 24,
    source: Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)] = None,
) -> Response:
    """Sentiment counts and shares over the last ``hours`` (by ``created_at``), and the emotions seen,
    most frequent first."""

    async def build() -> Distribution:
        end = utcnow()
        found = await b.aggregator.distribution(end - timedelta(hours=hours), end, source)
        return Distribution(timeframe_hours=hours, source=source, **found)

    return await cached(b, request, build)


@router.get("/api/sentiment/emotions", response_model=Emotions)
async def emotions(
    request: Request, b: Annotated[Backend, Depends(backend)], r: Annotated[TimeRange, Depends(time_range)]
) -> Response:
    """Counts of all seven emotions per bucket of ``created_at`` (UTC), empty buckets included."""

    async def build() -> Emotions:
        data = await over_time(b.aggregator.emotions_over_time(r.start, r.end, r.period, r.source))
        return Emotions(period=r.period, start_date=r.start, end_date=r.end, data=data)

    return await cached(b, request, build)


@router.get("/api/alerts", response_model=Alerts)
async def alerts(
    b: Annotated[Backend, Depends(backend)],
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    start_date: Annotated[Timestamp | None, Query(description="ISO 8601: triggered at or after")] = None,
    end_date: Annotated[Timestamp | None, Query(description="ISO 8601: triggered at or before")] = None,
) -> Alerts:
    """Alerts raised, newest first (by ``triggered_at``)."""
    in_order(start_date, end_date)
    where: list[ColumnElement[bool]] = []
    if start_date:
        where.append(SentimentAlert.triggered_at >= start_date)
    if end_date:
        where.append(SentimentAlert.triggered_at <= end_date)
    async with b.reads.connect() as conn:
        total = await conn.scalar(select(func.count()).select_from(SentimentAlert).where(*where))
        rows = await conn.execute(
            select(SentimentAlert)
            .where(*where)
            .order_by(SentimentAlert.triggered_at.desc(), SentimentAlert.id.desc())
            .limit(limit)
            .offset(offset)
        )
        found = [AlertData.model_validate(row, from_attributes=True) for row in rows]
    return Alerts(alerts=found, total=int(total or 0), limit=limit, offset=offset)
