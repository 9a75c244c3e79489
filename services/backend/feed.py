"""The post feed's query: posts with their analyses, newest first, filtered, paged by offset or keyset, and
searched (``q``: the topics' query syntax, through the search index, matched words highlighted)."""

import asyncio
import hashlib
import html
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, literal, literal_column, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.backend.aggregation import Filters, SentimentAggregator
from services.backend.cache import AnswerCache
from services.backend.errors import UnknownCursor
from services.backend.schemas import Analysis, Post, Posts
from services.common.db.models import (
    TEXT_SEARCH,
    PostId,
    PostTopic,
    SentimentAnalysis,
    SocialMediaPost,
    its_post,
)
from services.common.labels import Emotion, Sentiment
from services.common.timestamps import utcnow

SEARCH_TOTAL_CAP = 10_000  # a search's total is exact up to here
SEARCH_WINDOWS = (timedelta(days=1), timedelta(days=8))  # what a search's page reads first (``_searched``)


# ts_headline marks the matches, and leaves the text as it is: they are marked with two control characters
# (taken out of the text first), the text is HTML-escaped here, then the marks become <b> and </b>.
_START, _STOP = "\x02", "\x03"


def _headline(query: "FeedQuery", content: Any) -> Any:
    text = func.translate(content, _START + _STOP, "")
    options = f'StartSel="{_START}", StopSel="{_STOP}", HighlightAll=true'  # unquoted, they read as spaces
    return func.ts_headline(literal_column(f"'{TEXT_SEARCH}'::regconfig"), text, query.tsquery(), options)


def _highlighted(headline: str) -> str:
    return html.escape(headline, quote=False).replace(_START, "<b>").replace(_STOP, "</b>")


@dataclass(frozen=True)
class FeedQuery:
    limit: int
    offset: int
    source: str | None
    lang: str | None
    sentiment: Sentiment | None
    emotion: Emotion | None
    start_date: datetime | None
    end_date: datetime | None
    before: str | None  # a post_id: only posts older than it
    topics: tuple[int, ...] = ()  # only posts tagged with one of them
    q: str | None = None  # a search: websearch_to_tsquery syntax, checked (services/backend/topics.py)

    def filters(self) -> Filters:
        return Filters(
            self.start_date, self.end_date, self.source, self.sentiment, self.emotion, self.lang, self.topics
        )

    def capped(self) -> bool:
        """Whether no rollup counts the posts exactly, so that the total is counted up to SEARCH_TOTAL_CAP: a
        search, or several topics (a post tagged with two is one post, where their rollups count it twice)."""
        return bool(self.q) or len(self.topics) > 1

    def where(self) -> list[ColumnElement[bool]]:
        """The conditions on the posts."""
        where: list[ColumnElement[bool]] = []
        if self.source:
            where.append(SocialMediaPost.source == self.source)
        if self.lang:
            where.append(SocialMediaPost.lang == self.lang)
        if self.start_date:
            where.append(SocialMediaPost.created_at >= self.start_date)
        if self.end_date:
            where.append(SocialMediaPost.created_at <= self.end_date)
        if self.q:
            where.append(SocialMediaPost.search_vector.op("@@")(self.tsquery()))
        return where

    def tsquery(self) -> Any:
        return func.websearch_to_tsquery(literal_column(f"'{TEXT_SEARCH}'::regconfig"), self.q)

    def where_analysis(self) -> list[ColumnElement[bool]]:
        """The conditions on their analyses."""
        where: list[ColumnElement[bool]] = []
        if self.sentiment:
            where.append(SentimentAnalysis.sentiment_label == self.sentiment)
        if self.emotion:
            where.append(SentimentAnalysis.emotion == self.emotion)
        return where


async def page(
    reads: AsyncEngine,
    aggregator: SentimentAggregator,
    query: FeedQuery,
    cache: AnswerCache | None = None,
    ttl_s: float = 0.0,
) -> Posts:
    """One page and the total of the posts matching the filters. With ``cache``, the total is kept for
    ``ttl_s`` (CACHE_TTL_S, as the other counts) under its filters alone: every page of a feed (each
    ``before``, each offset, each limit) shares it."""

    async def count() -> bytes:
        if query.capped():  # the matches, up to one past the cap
            async with reads.connect() as conn:
                capped = select(SocialMediaPost.post_id).where(
                    *query.where(), *_tagged(query, query.start_date, query.end_date)
                )
                if query.sentiment or query.emotion:
                    capped = capped.join(SentimentAnalysis, its_post()).where(*query.where_analysis())
                found = await conn.scalar(
                    select(func.count()).select_from(capped.limit(SEARCH_TOTAL_CAP + 1).subquery())
                )
            return str(found or 0).encode()
        return str(await aggregator.total(query.filters())).encode()

    filters = repr((query.filters(), query.q)).encode()
    key = hashlib.sha1(filters, usedforsecurity=False).hexdigest()
    # The total (from the rollup) is counted on another connection while the page is read.
    counting = asyncio.create_task(
        cache.kept(cache.names.cache_key("/api/posts", "total", key), ttl_s, count) if cache else count()
    )
    try:
        async with reads.connect() as conn:
            found = await _rows(conn, aggregator, query)
    finally:
        kept = int(await counting)
    # A total kept from a moment ago may count fewer posts than the page now holds.
    total = max(kept, query.offset + len(found))
    capped = query.capped() and total > SEARCH_TOTAL_CAP
    total = min(total, SEARCH_TOTAL_CAP) if query.capped() else total
    asked = {
        "source": query.source,
        "lang": query.lang,
        "sentiment": query.sentiment,
        "emotion": query.emotion,
        "start_date": query.start_date,
        "end_date": query.end_date,
        "before": query.before,
        "topic": list(query.topics),
        "q": query.q,
    }
    return Posts(
        posts=found,
        total=total,
        total_is_lower_bound=capped,
        limit=query.limit,
        offset=query.offset,
        filters=asked,
    )


async def _rows(conn: AsyncConnection, aggregator: SentimentAggregator, query: FeedQuery) -> list[Post]:
    where = query.where()
    upper = query.end_date
    if query.before:
        anchor = await _anchor(conn, query.before)
        where.append(
            or_(
                SocialMediaPost.created_at < anchor.created_at,
                and_(SocialMediaPost.created_at == anchor.created_at, SocialMediaPost.id < anchor.id),
            )
        )
        upper = min(upper, anchor.created_at) if upper else anchor.created_at
        where.append(SocialMediaPost.created_at <= upper)  # implied by the OR, which prunes nothing
    if query.q:
        return await _searched(conn, query, where, upper)
    # Only the days that hold the page: the rollup says from when on enough posts match.
    since = await aggregator.page_floor(query.filters(), query.offset + query.limit, upper)
    if since is None:
        return []
    return await _read(conn, query, where, since, upper)


async def _searched(
    conn: AsyncConnection, query: "FeedQuery", where: list[ColumnElement[bool]], upper: datetime | None
) -> list[Post]:
    """A search's page. No rollup counts its matches, so it reads the newest day first, then the newest
    SEARCH_WINDOWS, then every day: a full page from the newest days is the page. Read at once, the planner
    walks every day's posts newest first and makes each one's vector again until the page is full, which
    for a word in 1 % of the posts took 66 ms on 1,000,000, against 3 ms through one day's index."""
    newest = upper or utcnow()
    for window in (*SEARCH_WINDOWS, None):
        since = query.start_date
        if window is not None and (since is None or since < newest - window):
            since = newest - window
        elif window is not None:
            continue  # the window holds every day asked: read them all, once, below
        found = await _read(conn, query, list(where), since, upper)
        if len(found) == query.limit or since == query.start_date:
            return found
    return found


async def _read(
    conn: AsyncConnection,
    query: "FeedQuery",
    where: list[ColumnElement[bool]],
    since: datetime | None,
    upper: datetime | None,
) -> list[Post]:
    """The page among the posts created from ``since`` (None: any time) to ``upper``."""
    if since is not None:
        where.append(SocialMediaPost.created_at >= since)
    # The same bounds on the analyses, which their post's created_at implies: without them the planner
    # plans the look-up in every partition of the analyses (8 ms of planning for 0.8 ms of work at 30
    # days); with them, in the page's days alone.
    days = [SentimentAnalysis.created_at >= since] if since is not None else []
    if upper is not None:
        days.append(SentimentAnalysis.created_at <= upper)
    where += _tagged(query, since, upper)
    # A search with no filter on the analyses takes its page of posts first, in a MATERIALIZED CTE, which
    # is planned to read all of its rows: planned for the first rows of the join below, the planner walks
    # the posts newest first and makes each one's vector again until the page is full (a word in 1 % of the
    # posts: 59 ms in one day), where the day's search index finds them at once (3 ms).
    posts: Any = SocialMediaPost.__table__
    shown = [c for c in posts.c if c.name != "search_vector"]
    if query.q and not query.where_analysis():
        posts = (
            select(*shown)
            .where(*where)
            .order_by(posts.c.created_at.desc(), posts.c.id.desc())
            .limit(query.offset + query.limit)
            .cte("posts")
            .prefix_with("MATERIALIZED")
        )
        where = []
    # Each post's analysis in a LATERAL subquery that is never merged into the join (OFFSET 0): as a join on
    # (post_id, created_at), the planner multiplies the two keys' selectivities, expects one row in all and
    # hash-joins every partition (measured: 9 s on 10,000,000 posts); this way it walks the posts newest
    # first and looks up each one's analysis in its own day's partition, until the page is full.
    analysis = (
        select(
            SentimentAnalysis.sentiment_label,
            SentimentAnalysis.confidence_score,
            SentimentAnalysis.emotion,
            SentimentAnalysis.model_name,
        )
        .where(
            SentimentAnalysis.post_id == posts.c.post_id,
            SentimentAnalysis.created_at == posts.c.created_at,
            *days,
            *query.where_analysis(),
        )
        .offset(0)
        .lateral("analysis")
    )
    rows = await conn.execute(
        select(
            *(posts.c[c.name] for c in shown),
            analysis.c.sentiment_label,
            analysis.c.confidence_score,
            analysis.c.emotion,
            analysis.c.model_name,
            (_headline(query, posts.c.content) if query.q else literal(None)).label("headline"),
        )
        .select_from(posts)
        .join(analysis, true())
        .where(*where)
        .order_by(posts.c.created_at.desc(), posts.c.id.desc())
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
            lang=r.lang,
            url=r.url,
            headline=_highlighted(r.headline) if r.headline is not None else None,
            sentiment=Analysis(
                label=r.sentiment_label,
                confidence=r.confidence_score,
                emotion=r.emotion,
                model_name=r.model_name,
            ),
        )
        for r in rows
    ]


def _tagged(query: FeedQuery, since: datetime | None, upper: datetime | None) -> list[ColumnElement[bool]]:
    """The condition that a post is tagged with one of the topics, looked up in the days from ``since`` to
    ``upper`` alone (as the analyses are: else it is planned in every day's partition)."""
    if not query.topics:
        return []
    days = [PostTopic.created_at >= since] if since is not None else []
    days += [PostTopic.created_at <= upper] if upper else []
    tagged = select(PostTopic.post_id).where(
        PostTopic.topic_id.in_(query.topics),
        PostTopic.post_id == SocialMediaPost.post_id,
        PostTopic.created_at == SocialMediaPost.created_at,
        *days,
    )
    return [exists(tagged)]


async def _anchor(conn: AsyncConnection, post_id: str) -> Any:
    """The ``before`` post's place in the feed's order (created_at, then id, both descending)."""
    # Its day first, from the registry, then the post in that day's partition alone: as one statement (a
    # subquery for the day) the planner plans the look-up in every partition, 4 ms at 30 days.
    day = await conn.scalar(select(PostId.created_at).where(PostId.post_id == post_id))
    if day is None:
        raise UnknownCursor(post_id)
    anchor = (
        await conn.execute(
            select(SocialMediaPost.created_at, SocialMediaPost.id).where(
                SocialMediaPost.post_id == post_id, SocialMediaPost.created_at == day
            )
        )
    ).first()
    if anchor is None:
        raise UnknownCursor(post_id)
    return anchor
