"""The post feed's query: posts with their analyses, newest first, filtered, paged by offset or keyset."""

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.backend.aggregation import Filters, SentimentAggregator
from services.backend.errors import UnknownCursor
from services.backend.schemas import Analysis, Post, Posts
from services.common.db.models import PostId, SentimentAnalysis, SocialMediaPost, its_post
from services.common.labels import Emotion, Sentiment


@dataclass(frozen=True)
class FeedQuery:
    limit: int
    offset: int
    source: str | None
    sentiment: Sentiment | None
    emotion: Emotion | None
    start_date: datetime | None
    end_date: datetime | None
    before: str | None  # a post_id: only posts older than it

    def where(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.source:
            where.append(SocialMediaPost.source == self.source)
        if self.sentiment:
            where.append(SentimentAnalysis.sentiment_label == self.sentiment)
        if self.emotion:
            where.append(SentimentAnalysis.emotion == self.emotion)
        if self.start_date:
            where.append(SocialMediaPost.created_at >= self.start_date)
        if self.end_date:
            where.append(SocialMediaPost.created_at <= self.end_date)
        return where


async def page(reads: AsyncEngine, aggregator: SentimentAggregator, query: FeedQuery) -> Posts:
    """One page and the total of the posts matching the filters."""
    filters = Filters(query.start_date, query.end_date, query.source, query.sentiment, query.emotion)
    # The total (from the rollup) is counted on another connection while the page is read.
    counting = asyncio.create_task(aggregator.total(filters))
    try:
        async with reads.connect() as conn:
            found = await _rows(conn, query)
    finally:
        total = await counting
    asked = {
        "source": query.source,
        "sentiment": query.sentiment,
        "emotion": query.emotion,
        "start_date": query.start_date,
        "end_date": query.end_date,
        "before": query.before,
    }
    return Posts(posts=found, total=total, limit=query.limit, offset=query.offset, filters=asked)


async def _rows(conn: AsyncConnection, query: FeedQuery) -> list[Post]:
    where = query.where()
    if query.before:
        where.append(await _older_than(conn, query.before))
    rows = await conn.execute(
        select(
            *SocialMediaPost.__table__.c,
            SentimentAnalysis.sentiment_label,
            SentimentAnalysis.confidence_score,
            SentimentAnalysis.emotion,
            SentimentAnalysis.model_name,
        )
        .join(SentimentAnalysis, its_post())
        .where(*where)
        .order_by(SocialMediaPost.created_at.desc(), SocialMediaPost.id.desc())
        .limit(query.limit)
        .offset(query.offset)
    )
    return [
        Post(
            post_id=r.post_id,
            source=r.source,
            content=r.content,
            author=r.author,
            created_at=r.created_at,
            sentiment=Analysis(
                label=r.sentiment_label,
                confidence=r.confidence_score,
                emotion=r.emotion,
                model_name=r.model_name,
            ),
        )
        for r in rows
    ]


async def _older_than(conn: AsyncConnection, post_id: str) -> ColumnElement[bool]:
    """Posts after ``post_id`` in the feed's order (created_at, then id, both descending)."""
    anchor = (
        await conn.execute(
            select(SocialMediaPost.created_at, SocialMediaPost.id).where(
                SocialMediaPost.post_id == post_id,
                # its day, from the registry: one partition read, not all of them
                SocialMediaPost.created_at
                == select(PostId.created_at).where(PostId.post_id == post_id).scalar_subquery(),
            )
        )
    ).first()
    if anchor is None:
        raise UnknownCursor(post_id)
    return or_(
        SocialMediaPost.created_at < anchor.created_at,
        and_(SocialMediaPost.created_at == anchor.created_at, SocialMediaPost.id < anchor.id),
    )
