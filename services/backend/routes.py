"""The read endpoints: health, the post feed, the aggregations and the alerts (docs/api.md).

Every parameter is validated (a 422 names it); time filters use the post's own ``created_at``.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import ColumnElement, func, select

from services.backend import feed
from services.backend import health as probes
from services.backend.access import LIVE_TICKET_TTL_S, api_key
from services.backend.aggregation import EARLIEST, Period
from services.backend.cache import kept_for
from services.backend.deps import BackendDep
from services.backend.errors import RETRY_AFTER_S, InvalidParameter
from services.backend.schemas import (
    Aggregate,
    Alerts,
    Distribution,
    Emotions,
    Health,
    LiveTicket,
    Posts,
    Services,
    TopicDistribution,
    TopicEmotions,
    TopicSeries,
)
from services.backend.topics import TopicsFilter, checked_query
from services.common.db.models import TOPIC_QUERY_MAX_CHARS, SentimentAlert
from services.common.events import AlertData
from services.common.labels import Emotion, Sentiment
from services.common.messages import LANG_PATTERN
from services.common.redis import persistence, redis_unavailable
from services.common.timestamps import QueryDatetime, utcnow

DEFAULT_SPAN = timedelta(hours=24)  # of the time series when start_date is not given
Timestamp = QueryDatetime  # ISO 8601, held in UTC; without an offset, read as UTC
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"  # no control characters (PostgreSQL refuses NUL in text)
Source = Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)]
Lang = Annotated[
    str | None,
    Query(pattern=LANG_PATTERN, description='a BCP 47 primary subtag ("en"), or "und"'),
]
Limit = Annotated[int, Query(ge=1, le=100)]
# An offset costs a walk over every row it skips: past this many, page with ``before`` (the feed) or
# ``end_date`` (the alerts), which cost the same on every page.
OFFSET_MAX = 10_000
Offset = Annotated[
    int,
    Query(ge=0, le=OFFSET_MAX, description=f"at most {OFFSET_MAX}; page further with before (or end_date)"),
]

health_router = APIRouter()
router = APIRouter(dependencies=[Depends(api_key)])


def dates_in_order(start: datetime | None, end: datetime | None) -> None:
    if start and end and start > end:
        raise InvalidParameter("start_date", "start_date is after end_date")


@dataclass(frozen=True)
class TimeRange:
    period: Period
    start: datetime
    end: datetime
    source: str | None
    topics: tuple[int, ...]


async def time_range(
    topic: TopicsFilter,
    period: Annotated[Period, Query()] = "hour",
    start_date: Annotated[Timestamp | None, Query(description="ISO 8601; default end_date - 24 h")] = None,
    end_date: Annotated[Timestamp | None, Query(description="ISO 8601; default now")] = None,
    source: Source = None,
) -> TimeRange:
    """The buckets asked for; by default the last 24 hours (or the 24 before end_date)."""
    end = end_date or utcnow()
    start = start_date or max(end, EARLIEST + DEFAULT_SPAN) - DEFAULT_SPAN
    dates_in_order(start, end)
    return TimeRange(period, start, end, source, topic)


TimeRangeDep = Annotated[TimeRange, Depends(time_range)]


def _compared(
    topics: tuple[int, ...], answer: Callable[[tuple[int, ...]], Awaitable[Any]]
) -> list[Awaitable[Any]]:
    """Each topic's own answer when several are compared (none for one topic or none)."""
    return [answer((t,)) for t in topics] if len(topics) > 1 else []


@health_router.get("/api/health", response_model=Health)
async def health(backend: BackendDep) -> JSONResponse:
    """The services' state, the table counts, the dead letters and what an operator should know.
    ``total_posts`` and ``total_analyses`` are PostgreSQL's estimates (``pg_class.reltuples``) once a table
    passes 100,000 rows, exact below. Degraded while Redis or Triton does not answer, or once the dead
    letters reach DEAD_LETTERS_DEGRADED_AT."""
    database, redis_up, triton = await asyncio.gather(
        probes.answers(probes.database_answers(backend.reads)),
        probes.answers(backend.redis.ping()),
        probes.answers(backend.triton.healthy()),
    )
    # What the probes allow, asked at once: under load each await waits its turn for the event loop.
    stats, kept, sources, dead = await asyncio.gather(
        probes.stats(backend.reads, backend.aggregator, backend.cache) if database else probes.given(None),
        probes.within(persistence(backend.redis), "unknown") if redis_up else probes.given(None),
        probes.within(probes.sources(backend.redis, backend.names), []) if redis_up else probes.given([]),
        probes.within(probes.dead_letters(backend.reads), None) if database else probes.given(None),
    )
    if dead is not None:
        backend.dead_letters.set(dead)
    warnings = probes.warnings(kept, dead, backend.settings.dead_letters_degraded_at, sources)
    piling_up = dead is not None and dead >= backend.settings.dead_letters_degraded_at
    status = (
        "unhealthy" if not database else "healthy" if redis_up and triton and not piling_up else "degraded"
    )
    body = Health(
        status=status,
        timestamp=utcnow(),
        services=Services(
            database="connected" if database else "disconnected",
            redis="connected" if redis_up else "disconnected",
            triton="connected" if triton else "disconnected",
        ),
        stats=stats,
        redis_persistence=kept,
        dead_letters=dead,
        sources=sources,
        warnings=warnings,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=503 if status == "unhealthy" else 200)


@router.get("/api/posts", response_model=Posts)
async def posts(
    request: Request,
    backend: BackendDep,
    topic: TopicsFilter,
    limit: Limit = 50,
    offset: Offset = 0,
    source: Source = None,
    lang: Lang = None,
    sentiment: Sentiment | None = None,
    emotion: Emotion | None = None,
    start_date: Annotated[Timestamp | None, Query(description="ISO 8601 (UTC without an offset)")] = None,
    end_date: Annotated[Timestamp | None, Query(description="ISO 8601 (UTC without an offset)")] = None,
    before: Annotated[
        str | None,
        Query(
            max_length=128,
            pattern=PRINTABLE,
            description="a post_id: only posts older than it (stable paging)",
        ),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=TOPIC_QUERY_MAX_CHARS,
            description="a search, in the topics' query syntax (docs/topics.md); each post's headline marks "
            "the words matched",
        ),
    ] = None,
) -> Response:
    """Posts with their analyses, newest first (by ``created_at``). An unknown source matches nothing; an
    unknown label is a 422. With several topics, the posts tagged with any of them. ``before`` pages a live
    feed without skipping or repeating: pass the last post_id seen. A page is kept for FEED_CACHE_TTL_S
    (1 s): viewers asking for the same page within it share one query."""
    dates_in_order(start_date, end_date)
    if q is not None:
        async with backend.reads.connect() as conn:
            q = await checked_query(conn, q, "q", "query")
    query = feed.FeedQuery(
        limit, offset, source, lang, sentiment, emotion, start_date, end_date, before, topic, q
    )
    return await backend.cache.response(
        request,
        lambda: feed.page(
            backend.reads,
            backend.aggregator,
            query,
            backend.cache,
            kept_for(request, backend.settings.cache_ttl_s),
        ),
        backend.settings.feed_cache_ttl_s,
    )


@router.get("/api/sentiment/aggregate", response_model=Aggregate)
async def aggregate(request: Request, backend: BackendDep, span: TimeRangeDep) -> Response:
    """Sentiment counts and shares per bucket of ``created_at`` (UTC), empty buckets included with
    zeros; at most 1,500 buckets. Percentages are rounded to 2 places and sum to 100 in a bucket with
    posts. Several topics are compared: each one's answer in ``by_topic``, their matches summed above."""

    async def series(topics: tuple[int, ...]) -> dict[str, Any]:
        data = await backend.aggregator.sentiment_over_time(
            span.start, span.end, span.period, span.source, topics
        )
        summary = {
            "total_posts": sum(d["total_count"] for d in data),
            "positive_total": sum(d["positive_count"] for d in data),
            "negative_total": sum(d["negative_count"] for d in data),
            "neutral_total": sum(d["neutral_count"] for d in data),
        }
        return {"data": data, "summary": summary}

    async def build() -> Aggregate:
        summed, *each = await asyncio.gather(series(span.topics), *_compared(span.topics, series))
        by_topic = [TopicSeries(topic=t, **e) for t, e in zip(span.topics, each, strict=False)]
        return Aggregate(
            period=span.period, start_date=span.start, end_date=span.end, by_topic=by_topic, **summed
        )

    return await backend.cache.response(request, build)


@router.get("/api/sentiment/distribution", response_model=Distribution)
async def distribution(
    request: Request,
    backend: BackendDep,
    topic: TopicsFilter,
    hours: Annotated[int, Query(ge=1, le=168)] = 24,
    source: Source = None,
) -> Response:
    """Sentiment counts and shares over the last ``hours`` (by ``created_at``), and the emotions seen,
    most frequent first. Several topics are compared: each one's in ``by_topic``, their matches summed."""
    end = utcnow()

    async def one(topics: tuple[int, ...]) -> dict[str, Any]:
        return await backend.aggregator.distribution(end - timedelta(hours=hours), end, source, topics)

    async def build() -> Distribution:
        summed, *each = await asyncio.gather(one(topic), *_compared(topic, one))
        by_topic = [TopicDistribution(topic=t, **e) for t, e in zip(topic, each, strict=False)]
        return Distribution(
            timeframe_hours=hours, source=source, topic=list(topic), by_topic=by_topic, **summed
        )

    return await backend.cache.response(request, build)


@router.get("/api/sentiment/emotions", response_model=Emotions)
async def emotions(request: Request, backend: BackendDep, span: TimeRangeDep) -> Response:
    """Counts of all seven emotions per bucket of ``created_at`` (UTC), empty buckets included. Several
    topics are compared: each one's in ``by_topic``, their matches summed above."""

    async def one(topics: tuple[int, ...]) -> list[dict[str, Any]]:
        return await backend.aggregator.emotions_over_time(
            span.start, span.end, span.period, span.source, topics
        )

    async def build() -> Emotions:
        summed, *each = await asyncio.gather(one(span.topics), *_compared(span.topics, one))
        by_topic = [TopicEmotions(topic=t, data=e) for t, e in zip(span.topics, each, strict=False)]
        return Emotions(
            period=span.period, start_date=span.start, end_date=span.end, data=summed, by_topic=by_topic
        )

    return await backend.cache.response(request, build)


@router.get("/api/alerts", response_model=Alerts)
async def alerts(
    backend: BackendDep,
    limit: Limit = 50,
    offset: Offset = 0,
    start_date: Annotated[Timestamp | None, Query(description="ISO 8601: triggered at or after")] = None,
    end_date: Annotated[Timestamp | None, Query(description="ISO 8601: triggered at or before")] = None,
) -> Alerts:
    """Alerts raised, newest first (by ``triggered_at``)."""
    dates_in_order(start_date, end_date)
    where: list[ColumnElement[bool]] = []
    if start_date:
        where.append(SentimentAlert.triggered_at >= start_date)
    if end_date:
        where.append(SentimentAlert.triggered_at <= end_date)
    async with backend.reads.connect() as conn:
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


@router.post("/api/live/ticket", response_model=LiveTicket)
async def live_ticket(backend: BackendDep) -> LiveTicket:
    """A single-use ticket for ``/ws/sentiment?ticket=``, good for LIVE_TICKET_TTL_S (30 s) on any API
    replica: how a browser, which cannot set headers on a WebSocket, brings the API key (docs/api.md)."""
    try:
        ticket = await backend.tickets.issue()
    except Exception as exc:
        if redis_unavailable(exc):
            raise HTTPException(
                503, "Redis is unavailable: retry later", headers={"Retry-After": str(RETRY_AFTER_S)}
            ) from exc
        raise
    return LiveTicket(ticket=ticket, expires_in_s=LIVE_TICKET_TTL_S)
