"""SentimentAggregator: sentiment and emotion counts by time bucket and over a window, in SQL.

Buckets are the post's ``created_at`` truncated in UTC; buckets without posts are filled in with zeros.
Every count is exact and cheap on a large table: a time range is cut into whole hours and whole minutes,
read from the rollup that PostgreSQL keeps (``sentiment_rollup``), and the partial minutes at its ends,
counted from the posts themselves; all in one statement, so one snapshot. A topic's counts are read the
same way from its own rollup (``topic_rollup``) and its tags (``post_topics``).
"""

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, String, cast, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db.models import (
    PostTopic,
    SentimentAnalysis,
    SentimentRollup,
    SocialMediaPost,
    TopicRollup,
    UtcTime,
    its_post,
)
from services.common.labels import Emotion, Sentiment

Period = Literal["minute", "hour", "day"]
STEP = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
MAX_BUCKETS = 1500
SENTIMENTS = [s.value for s in Sentiment]
EMOTIONS = [e.value for e in Emotion]
Grain = Literal["minute", "hour"]
# The rollup grains a period can be read from, coarsest first (an hour cannot be cut into minutes).
GRAINS: dict[Period | None, tuple[Grain, ...]] = {
    "minute": ("minute",),
    "hour": ("hour", "minute"),
    "day": ("hour", "minute"),
    None: ("hour", "minute"),
}
# Bounds for an open range (Python's own, to the day).
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=UTC)
TICK = timedelta(microseconds=1)
# How far back ``page_floor`` looks first (None: the whole range).
FLOOR_LOOKBACKS = (
    timedelta(days=1),
    None,
)  # PostgreSQL's resolution: created_at <= end is created_at < end + TICK


def _earlier(moment: datetime, by: timedelta) -> datetime:
    """``moment - by``, or the calendar's first day where that is before it."""
    return moment - by if moment - EARLIEST > by else EARLIEST


class TooManyBuckets(ValueError):
    pass


def floor(moment: datetime, period: Period) -> datetime:
    if period == "minute":
        return moment.replace(second=0, microsecond=0)
    if period == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def ceil(moment: datetime, grain: Grain) -> datetime:
    down = floor(moment, grain)
    return down if down == moment else down + STEP[grain]


def pieces(
    start: datetime, stop: datetime, grains: tuple[Grain, ...]
) -> list[tuple[Grain | None, datetime, datetime]]:
    """[start, stop) as whole buckets of the coarsest grain that fits, then finer ones at each end, and the
    rest (grain None) to count from the posts: (grain, from, to) for each piece, none empty."""
    if start >= stop:
        return []
    if not grains:
        return [(None, start, stop)]
    grain, finer = grains[0], grains[1:]
    first, last = ceil(start, grain), floor(stop, grain)
    if first >= last:
        return pieces(start, stop, finer)
    return [*pieces(start, first, finer), (grain, first, last), *pieces(last, stop, finer)]


def buckets(start: datetime, end: datetime, period: Period) -> list[datetime]:
    """Every bucket from the one holding ``start`` to the one holding ``end``; TooManyBuckets past 1,500."""
    first, last = floor(start, period), floor(end, period)
    count = int((last - first) / STEP[period]) + 1
    if count > MAX_BUCKETS:
        raise TooManyBuckets(
            f"{count} {period} buckets from start_date to end_date; at most {MAX_BUCKETS}: "
            "choose a longer period or a shorter range"
        )
    return [first + i * STEP[period] for i in range(count)]


def percentages(counts: dict[str, int]) -> dict[str, float]:
    """Each count's share of the total in percent, to 2 places, summing to exactly 100 (largest
    remainder), or all 0 when there is nothing."""
    total = sum(counts.values())
    if not total:
        return dict.fromkeys(counts, 0.0)
    exact = {label: 10_000 * n / total for label, n in counts.items()}  # hundredths of a percent
    floors = {label: int(value) for label, value in exact.items()}
    short = 10_000 - sum(floors.values())
    for label in sorted(exact, key=lambda k: floors[k] - exact[k])[:short]:
        floors[label] += 1
    return {label: units / 100 for label, units in floors.items()}


@dataclass(frozen=True)
class Filters:
    """What to count: posts created from ``start`` to ``end`` (inclusive), of a source, a sentiment, an
    emotion, a language, tagged with any of ``topics`` (none: any post); None is any. With several topics a
    post is counted once for each it is tagged with, as share of voice counts their matches."""

    start: datetime | None = None
    end: datetime | None = None
    source: str | None = None
    sentiment: Sentiment | None = None
    emotion: Emotion | None = None
    lang: str | None = None
    topics: tuple[int, ...] = ()


Rows = list[tuple[datetime | None, str, int, float]]


@dataclass
class SentimentAggregator:
    engine: AsyncEngine

    @staticmethod
    def _piece(
        grain: Grain | None, lo: datetime, hi: datetime, by: str, period: Period | None, f: Filters
    ) -> Select[Any]:
        """(bucket, label, posts, confidence sum) per bucket and label, for posts created in [lo, hi)."""
        lang: Any
        where: list[Any] = []
        if grain:
            table: Any = TopicRollup if f.topics else SentimentRollup
            when, source, lang = table.bucket, table.source, table.lang
            posts: Any = func.sum(table.posts)
            confidence = func.sum(table.confidence_sum)
            where = [table.grain == grain]
        elif f.topics:  # a topic's tags carry what is counted
            table = PostTopic
            when, source, lang = PostTopic.created_at, PostTopic.source, PostTopic.lang
            posts, confidence = func.count(), func.sum(PostTopic.confidence_score)
        else:
            table = SentimentAnalysis
            when, source, lang = SocialMediaPost.created_at, SocialMediaPost.source, SocialMediaPost.lang
            posts, confidence = func.count(), func.sum(SentimentAnalysis.confidence_score)
        if f.topics:
            where.append(table.topic_id.in_(f.topics))
        label = getattr(table, by)
        where += [when >= lo, when < hi]
        if f.source is not None:
            where.append(source == f.source)
        if f.lang is not None:
            where.append(lang == f.lang)
        for column, value in (("sentiment_label", f.sentiment), ("emotion", f.emotion)):
            if value is not None:
                where.append(getattr(table, column) == value)
        if not period:
            bucket: Any = cast(None, UtcTime)
        else:  # a rollup bucket of the period's own grain is its bucket already
            bucket = when if grain == period else func.date_trunc(period, when, "UTC")
        query = select(bucket, cast(label, String), posts, confidence)
        if not grain and not f.topics:
            query = query.select_from(SocialMediaPost).join(SentimentAnalysis, its_post())
        return query.where(*where).group_by(bucket, label)

    async def _counts(self, by: str, f: Filters, period: Period | None) -> Rows:
        """(bucket or None, label of column ``by``, posts, sum of confidence) for each bucket and label
        with posts."""
        start, stop = f.start or EARLIEST, min(f.end, LATEST) + TICK if f.end else LATEST
        parts = [
            self._piece(grain, lo, hi, by, period, f) for grain, lo, hi in pieces(start, stop, GRAINS[period])
        ]
        if not parts:
            return []
        async with self.engine.connect() as conn:
            rows: Any = await conn.execute(union_all(*parts) if len(parts) > 1 else parts[0])
        summed: dict[tuple[datetime | None, str], tuple[int, float]] = {}
        for bucket, label, n, total in rows:
            key = (bucket.astimezone(UTC) if bucket else None, label)
            had_n, had_total = summed.get(key, (0, 0.0))
            summed[key] = (had_n + int(n), had_total + float(total or 0))
        return [(bucket, label, n, total) for (bucket, label), (n, total) in summed.items() if n]

    async def by_topic(self, start: datetime, end: datetime) -> dict[int, dict[str, int]]:
        """Each topic's tagged posts of each sentiment created from ``start`` to ``end``, read as ``_counts``
        reads one topic's, for every topic in one statement (topics without posts left out)."""
        parts = []
        for grain, lo, hi in pieces(start, min(end, LATEST) + TICK, GRAINS[None]):
            if grain:
                r = TopicRollup
                parts.append(
                    select(r.topic_id, r.sentiment_label, func.sum(r.posts))
                    .where(r.grain == grain, r.bucket >= lo, r.bucket < hi)
                    .group_by(r.topic_id, r.sentiment_label)
                )
            else:
                t = PostTopic
                parts.append(
                    select(t.topic_id, t.sentiment_label, func.count())
                    .where(t.created_at >= lo, t.created_at < hi)
                    .group_by(t.topic_id, t.sentiment_label)
                )
        if not parts:
            return {}
        async with self.engine.connect() as conn:
            rows: Any = await conn.execute(union_all(*parts) if len(parts) > 1 else parts[0])
        counts: dict[int, dict[str, int]] = {}
        for topic, label, n in rows:
            if n:
                mine = counts.setdefault(topic, dict.fromkeys(SENTIMENTS, 0))
                mine[label] += int(n)
        return {topic: mine for topic, mine in counts.items() if sum(mine.values())}

    async def total(self, f: Filters) -> int:
        """How many analysed posts match ``f``, exactly."""
        return sum(n for _, _, n, _ in await self._counts("sentiment_label", f, None))

    async def page_floor(self, f: Filters, need: int, upper: datetime | None) -> datetime | None:
        """A time from which on at least ``need`` posts created before ``upper`` (None: any time; give
        ``f.end`` there) match ``f``, as late as the rollup's hours tell; else the oldest hour holding a
        match. None: nothing matches. With several topics, the latest of their own floors: from there on one
        topic's posts alone fill the page (their summed counts would count a post tagged twice twice).

        The feed reads the posts from there on only: a filter that few posts match (a rare emotion) would
        otherwise walk every partition to fill its page. The last day is asked first, which is enough for
        almost every page."""
        each = [replace(f, topics=(t,)) for t in f.topics] or [f]
        for lookback in FLOOR_LOOKBACKS:
            since = _earlier((upper or datetime.now(UTC)), lookback) if lookback else f.start
            found = [await self._floor(one, need, upper, since) for one in each]
            if reached := [at for at, enough in found if enough and at is not None]:
                return max(reached)
            if lookback is None:
                oldest = [at for at, _ in found if at is not None]
                return min(oldest) if oldest else None
        return None  # pragma: no cover - the last lookback always returns

    async def _floor(
        self, f: Filters, need: int, upper: datetime | None, since: datetime | None
    ) -> tuple[datetime | None, bool]:
        """(floor, whether ``need`` was reached) over the whole hours from ``since`` to ``upper``."""
        r: Any = TopicRollup if f.topics else SentimentRollup
        where = [r.grain == "hour", r.posts > 0]
        if f.topics:
            where.append(r.topic_id.in_(f.topics))
        if upper is not None:  # whole hours before upper: the posts of its own hour only add to the count
            where.append(r.bucket <= _earlier(upper, STEP["hour"]))
        low = max(since, f.start) if since and f.start else since or f.start
        if low is not None:
            where.append(r.bucket >= floor(low, "hour"))
        for column, value in (
            ("source", f.source),
            ("lang", f.lang),
            ("sentiment_label", f.sentiment),
            ("emotion", f.emotion),
        ):
            if value is not None:
                where.append(getattr(r, column) == value)
        hours = select(r.bucket, func.sum(r.posts).label("n")).where(*where).group_by(r.bucket).subquery()
        running = select(
            hours.c.bucket, func.sum(hours.c.n).over(order_by=hours.c.bucket.desc()).label("running")
        ).subquery()
        async with self.engine.connect() as conn:
            reached = await conn.scalar(
                select(running.c.bucket)
                .where(running.c.running >= need)
                .order_by(running.c.bucket.desc())
                .limit(1)
            )
            if reached is not None:
                return reached, True
            oldest = await conn.scalar(select(func.min(hours.c.bucket)))
        if oldest is not None:
            return oldest, False
        # No whole hour matches: only the posts of upper's own hour can (none at all without an upper).
        return (floor(upper, "hour"), False) if upper is not None else (None, False)

    async def sentiment_over_time(
        self, start: datetime, end: datetime, period: Period, source: str | None, topics: tuple[int, ...] = ()
    ) -> list[dict[str, Any]]:
        slots = buckets(start, end, period)
        found = await self._counts("sentiment_label", Filters(start, end, source, topics=topics), period)
        counts: dict[datetime, dict[str, int]] = {slot: {} for slot in slots}
        confidence: dict[datetime, float] = dict.fromkeys(slots, 0.0)
        for bucket, label, n, total in found:
            assert bucket is not None
            counts[bucket][label] = n
            confidence[bucket] += total
        data = []
        for slot in slots:
            c = {label: counts[slot].get(label, 0) for label in SENTIMENTS}
            total = sum(c.values())
            shares = percentages(c)
            data.append(
                {"timestamp": slot}
                | {f"{label}_count": n for label, n in c.items()}
                | {"total_count": total}
                | {f"{label}_percentage": share for label, share in shares.items()}
                | {"average_confidence": round(confidence[slot] / total, 4) if total else 0.0}
            )
        return data

    async def emotions_over_time(
        self, start: datetime, end: datetime, period: Period, source: str | None, topics: tuple[int, ...] = ()
    ) -> list[dict[str, Any]]:
        slots = buckets(start, end, period)
        counts: dict[datetime, dict[str, int]] = {slot: dict.fromkeys(EMOTIONS, 0) for slot in slots}
        f = Filters(start, end, source, topics=topics)
        for bucket, label, n, _ in await self._counts("emotion", f, period):
            assert bucket is not None
            counts[bucket][label] = n
        return [
            {"timestamp": slot, "counts": counts[slot], "total": sum(counts[slot].values())} for slot in slots
        ]

    async def sentiment_counts(
        self, start: datetime, end: datetime, source: str | None, topics: tuple[int, ...] = ()
    ) -> dict[str, int]:
        """Posts of each sentiment created from ``start`` to ``end``, every label present."""
        sentiments = dict.fromkeys(SENTIMENTS, 0)
        f = Filters(start, end, source, topics=topics)
        for _, label, n, _ in await self._counts("sentiment_label", f, None):
            sentiments[label] = n
        return sentiments

    async def distribution(
        self, start: datetime, end: datetime, source: str | None, topics: tuple[int, ...] = ()
    ) -> dict[str, Any]:
        sentiments = await self.sentiment_counts(start, end, source, topics)
        f = Filters(start, end, source, topics=topics)
        emotions = {label: n for _, label, n, _ in await self._counts("emotion", f, None)}
        total = sum(sentiments.values())
        return {
            "distribution": sentiments,
            "total": total,
            "percentages": percentages(sentiments),
            "top_emotions": dict(sorted(emotions.items(), key=lambda item: (-item[1], item[0]))),
        }
