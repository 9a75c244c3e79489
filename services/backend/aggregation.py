"""SentimentAggregator: sentiment and emotion counts by time bucket and over a window, in SQL.

Buckets are the post's ``created_at`` truncated in UTC; buckets without posts are filled in with zeros.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, func, literal, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db.models import SentimentAnalysis, SocialMediaPost
from services.common.labels import Emotion, Sentiment

Period = Literal["minute", "hour", "day"]
STEP = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
MAX_BUCKETS = 1500


class TooManyBuckets(ValueError):
    pass


def floor(moment: datetime, period: Period) -> datetime:
    if period == "minute":
        return moment.replace(second=0, microsecond=0)
    if period == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


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


@dataclass
class SentimentAggregator:
    engine: AsyncEngine

    def _where(self, start: datetime, end: datetime, source: str | None) -> list[ColumnElement[bool]]:
        where = [SocialMediaPost.created_at >= start, SocialMediaPost.created_at <= end]
        if source:
            where.append(SocialMediaPost.source == source)
        return where

    async def _counts(
        self,
        label: Any,
        start: datetime,
        end: datetime,
        source: str | None,
        period: Period | None,
    ) -> list[tuple[datetime | None, str, int, float]]:
        """(bucket or None, label, posts, sum of confidence) for each bucket and label with posts."""
        bucket = (
            func.date_trunc(period, func.timezone("UTC", SocialMediaPost.created_at))
            if period
            else literal(None)
        )
        query = (
            select(bucket, label, func.count(), func.sum(SentimentAnalysis.confidence_score))
            .select_from(SocialMediaPost)
            .join(SentimentAnalysis, SentimentAnalysis.post_id == SocialMediaPost.post_id)
            .where(*self._where(start, end, source))
            .group_by(bucket, label)
        )
        async with self.engine.connect() as conn:
            rows: Any = await conn.execute(query)
        return [(b, str(name), int(n), float(total or 0)) for b, name, n, total in rows]

    async def sentiment_over_time(
        self, start: datetime, end: datetime, period: Period, source: str | None
    ) -> list[dict[str, Any]]:
        slots = buckets(start, end, period)
        found = await self._counts(SentimentAnalysis.sentiment_label, start, end, source, period)
        counts: dict[datetime, dict[str, int]] = {slot: {} for slot in slots}
        confidence: dict[datetime, float] = dict.fromkeys(slots, 0.0)
        for bucket, label, n, total in found:
            assert bucket is not None
            slot = bucket.replace(tzinfo=UTC)
            counts[slot][label] = n
            confidence[slot] += total
        data = []
        for slot in slots:
            c = {s.value: counts[slot].get(s.value, 0) for s in Sentiment}
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
        self, start: datetime, end: datetime, period: Period, source: str | None
    ) -> list[dict[str, Any]]:
        slots = buckets(start, end, period)
        counts: dict[datetime, dict[str, int]] = {slot: {e.value: 0 for e in Emotion} for slot in slots}
        for bucket, label, n, _ in await self._counts(SentimentAnalysis.emotion, start, end, source, period):
            assert bucket is not None
            counts[bucket.replace(tzinfo=UTC)][label] = n
        return [
            {"timestamp": slot, "counts": counts[slot], "total": sum(counts[slot].values())} for slot in slots
        ]

    async def sentiment_counts(self, start: datetime, end: datetime, source: str | None) -> dict[str, int]:
        """Posts of each sentiment created from ``start`` to ``end``, every label present."""
        sentiments = {s.value: 0 for s in Sentiment}
        for _, label, n, _ in await self._counts(SentimentAnalysis.sentiment_label, start, end, source, None):
            sentiments[label] = n
        return sentiments

    async def distribution(self, start: datetime, end: datetime, source: str | None) -> dict[str, Any]:
        sentiments = await self.sentiment_counts(start, end, source)
        emotions = {
            label: n
            for _, label, n, _ in await self._counts(SentimentAnalysis.emotion, start, end, source, None)
            if n
        }
        total = sum(sentiments.values())
        return {
            "distribution": sentiments,
            "total": total,
            "percentages": percentages(sentiments),
            "top_emotions": dict(sorted(emotions.items(), key=lambda item: (-item[1], item[0]))),
        }
