"""The REST API (FastAPI): health, the post feed and the aggregations so far; alerts and the WebSocket follow.

Every parameter is validated (a 422 names it); time filters use the post's own ``created_at``.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

import redis.asyncio as aioredis
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import ColumnElement, String, and_, cast, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.backend.aggregation import Period, SentimentAggregator, TooManyBuckets
from services.common.db.engine import create_engine
from services.common.db.models import SentimentAlert, SentimentAnalysis, SocialMediaPost
from services.common.events import AlertData
from services.common.inference.client import AsyncClassifier
from services.common.settings import Settings, get_settings
from services.common.timestamps import UtcDatetime, utcnow

T = TypeVar("T")
EXACT_COUNT_BELOW = 100_000  # rows; above it /api/health reports PostgreSQL's estimate, not COUNT(*)


class Services(BaseModel):
    database: Literal["connected", "disconnected"]
    redis: Literal["connected", "disconnected"]
    triton: Literal["connected", "disconnected"]


class Stats(BaseModel):
    total_posts: int
    total_analyses: int
    recent_posts_1h: int


class Health(BaseModel):
    status: Literal["healthy", "degraded", "unhealthy"]
    timestamp: UtcDatetime
    services: Services
    stats: Stats | None


class Analysis(BaseModel):
    label: str
    confidence: float
    emotion: str
    model_name: str


class Post(BaseModel):
    post_id: str
    source: str
    content: str
    author: str
    created_at: UtcDatetime
    sentiment: Analysis


class Posts(BaseModel):
    posts: list[Post]
    total: int
    limit: int
    offset: int
    filters: dict[str, Any]


Timestamp = UtcDatetime  # a query parameter: ISO 8601 with an offset, held in UTC


class Alerts(BaseModel):
    alerts: list[AlertData]
    total: int
    limit: int
    offset: int


class Bucket(BaseModel):
    timestamp: UtcDatetime
    positive_count: int
    negative_count: int
    neutral_count: int
    total_count: int
    positive_percentage: float
    negative_percentage: float
    neutral_percentage: float
    average_confidence: float


class Aggregate(BaseModel):
    period: Period
    start_date: UtcDatetime
    end_date: UtcDatetime
    data: list[Bucket]
    summary: dict[str, int]


class Distribution(BaseModel):
    timeframe_hours: int
    source: str | None
    distribution: dict[str, int]
    total: int
    percentages: dict[str, float]
    top_emotions: dict[str, int]


class EmotionBucket(BaseModel):
    timestamp: UtcDatetime
    counts: dict[str, int]
    total: int


class Emotions(BaseModel):
    period: Period
    start_date: UtcDatetime
    end_date: UtcDatetime
    data: list[EmotionBucket]


class Backend:
    """What the routes share: the engine, Redis and the Triton client, made at start, closed at stop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: AsyncEngine = create_engine(settings.database_url)
        self.redis = aioredis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        self.triton = AsyncClassifier(settings.triton_url, settings.model_repository, timeout_s=2.0)

    async def close(self) -> None:
        await self.triton.close()
        await self.redis.aclose()
        await self.engine.dispose()


def backend(request: Request) -> Backend:
    return request.app.state.backend  # type: ignore[no-any-return]


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


async def _stats(engine: AsyncEngine) -> Stats:
    async with engine.connect() as conn:
        recent = await conn.scalar(
            select(func.count())
            .select_from(SocialMediaPost)
            .where(SocialMediaPost.created_at >= utcnow() - timedelta(hours=1))
        )
    return Stats(
        total_posts=await _count(engine, SocialMediaPost.__tablename__),
        total_analyses=await _count(engine, SentimentAnalysis.__tablename__),
        recent_posts_1h=int(recent or 0),
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


def time_range(
    period: Annotated[Period, Query()] = "hour",
    start_date: Annotated[Timestamp | None, Query(description="ISO 8601; default end_date - 24 h")] = None,
    end_date: Annotated[Timestamp | None, Query(description="ISO 8601; default now")] = None,
    source: Annotated[str | None, Query(max_length=64)] = None,
) -> TimeRange:
    """The buckets asked for; by default the last 24 hours (or the 24 before end_date)."""
    end = end_date or utcnow()
    start = start_date or end - timedelta(hours=24)
    in_order(start, end)
    return TimeRange(period, start, end, source)


def in_order(start: datetime | None, end: datetime | None) -> None:
    """A 422 naming start_date when it is after end_date."""
    if start and end and start > end:
        raise HTTPException(422, [{"loc": ["query", "start_date"], "msg": "start_date is after end_date"}])


async def over_time(call: Awaitable[T]) -> T:
    try:
        return await call
    except TooManyBuckets as exc:
        raise HTTPException(422, [{"loc": ["query", "period"], "msg": str(exc)}]) from exc


def create_app(settings: Settings | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.backend = Backend(settings or get_settings())
        yield
        await app.state.backend.close()

    app = FastAPI(title="Sentiment platform API", lifespan=lifespan)

    @app.get("/api/health", response_model=Health)
    async def health(b: Annotated[Backend, Depends(backend)]) -> JSONResponse:
        """The services' state and the table counts. ``total_posts`` and ``total_analyses`` are PostgreSQL's
        estimates (``pg_class.reltuples``) once a table passes 100,000 rows, exact below."""
        database, redis_up, triton = await asyncio.gather(
            _up(_database_up(b.engine)), _up(b.redis.ping()), _up(b.triton.healthy())
        )
        stats = await _stats(b.engine) if database else None
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

    @app.get("/api/posts", response_model=Posts)
    async def posts(
        b: Annotated[Backend, Depends(backend)],
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        source: Annotated[str | None, Query(max_length=64)] = None,
        sentiment: Annotated[str | None, Query(max_length=32)] = None,
        emotion: Annotated[str | None, Query(max_length=32)] = None,
        start_date: Annotated[Timestamp | None, Query(description="ISO 8601 with an offset")] = None,
        end_date: Annotated[Timestamp | None, Query(description="ISO 8601 with an offset")] = None,
        before: Annotated[
            str | None,
            Query(max_length=128, description="a post_id: only posts older than it (stable paging)"),
        ] = None,
    ) -> Posts:
        """Posts with their analyses, newest first (by ``created_at``). Unknown sources or labels match
        nothing. ``before`` pages a live feed without skipping or repeating: pass the last post_id seen."""
        in_order(start_date, end_date)
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
        analysed = SentimentAnalysis.post_id == SocialMediaPost.post_id
        async with b.engine.connect() as conn:
            total = await conn.scalar(
                select(func.count())
                .select_from(SocialMediaPost)
                .join(SentimentAnalysis, analysed)
                .where(*where)
            )
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
                .join(SentimentAnalysis, analysed)
                .where(*page)
                .order_by(SocialMediaPost.created_at.desc(), SocialMediaPost.id.desc())
                .limit(limit)
                .offset(offset)
            )
            found = [
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
        filters = {
            "source": source,
            "sentiment": sentiment,
            "emotion": emotion,
            "start_date": start_date,
            "end_date": end_date,
            "before": before,
        }
        return Posts(posts=found, total=int(total or 0), limit=limit, offset=offset, filters=filters)

    @app.get("/api/sentiment/aggregate", response_model=Aggregate)
    async def aggregate(
        b: Annotated[Backend, Depends(backend)], r: Annotated[TimeRange, Depends(time_range)]
    ) -> Aggregate:
        """Sentiment counts and shares per bucket of ``created_at`` (UTC), empty buckets included with
        zeros; at most 1,500 buckets. Percentages are rounded to 2 places and sum to 100 in a bucket with
        posts."""
        aggregator = SentimentAggregator(b.engine)
        data = await over_time(aggregator.sentiment_over_time(r.start, r.end, r.period, r.source))
        summary = {
            "total_posts": sum(d["total_count"] for d in data),
            "positive_total": sum(d["positive_count"] for d in data),
            "negative_total": sum(d["negative_count"] for d in data),
            "neutral_total": sum(d["neutral_count"] for d in data),
        }
        return Aggregate(period=r.period, start_date=r.start, end_date=r.end, data=data, summary=summary)

    @app.get("/api/sentiment/distribution", response_model=Distribution)
    async def distribution(
        b: Annotated[Backend, Depends(backend)],
        hours: Annotated[int, Query(ge=1, le=168)] = 24,
        source: Annotated[str | None, Query(max_length=64)] = None,
    ) -> Distribution:
        """Sentiment counts and shares over the last ``hours`` (by ``created_at``), and the emotions seen,
        most frequent first."""
        end = utcnow()
        found = await SentimentAggregator(b.engine).distribution(end - timedelta(hours=hours), end, source)
        return Distribution(timeframe_hours=hours, source=source, **found)

    @app.get("/api/sentiment/emotions", response_model=Emotions)
    async def emotions(
        b: Annotated[Backend, Depends(backend)], r: Annotated[TimeRange, Depends(time_range)]
    ) -> Emotions:
        """Counts of all seven emotions per bucket of ``created_at`` (UTC), empty buckets included."""
        data = await over_time(
            SentimentAggregator(b.engine).emotions_over_time(r.start, r.end, r.period, r.source)
        )
        return Emotions(period=r.period, start_date=r.start, end_date=r.end, data=data)

    @app.get("/api/alerts", response_model=Alerts)
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
        async with b.engine.connect() as conn:
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

    return app
