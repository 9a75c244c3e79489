"""The aggregation endpoints on the real PostgreSQL: buckets of created_at in UTC, empty ones filled in,
shares that sum to 100, and 422s for ranges and periods that cannot be served."""

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.backend.aggregation import Filters, SentimentAggregator, buckets, floor, percentages, pieces
from services.common.db.models import SentimentAnalysis, SocialMediaPost
from services.common.labels import Emotion, Sentiment
from services.common.timestamps import format_utc
from tests.backend.conftest import LABELS, NOW
from tests.support import days_ago


def created(i: int) -> datetime:
    """When post api-i was created (the conftest's posts)."""
    return NOW if i == 1 else NOW - timedelta(minutes=10 * i)


async def test_sentiment_per_hour_matches_the_posts_bucket_by_bucket(
    api: httpx.AsyncClient, posts: list[str]
) -> None:
    start, end = NOW - timedelta(hours=5), NOW
    response = await api.get(
        "/api/sentiment/aggregate",
        params={"period": "hour", "start_date": format_utc(start), "end_date": format_utc(end)},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["period"] == "hour"
    hours = [start.replace(minute=0, second=0) + timedelta(hours=h) for h in range(6)]
    assert [d["timestamp"] for d in body["data"]] == [format_utc(h) for h in hours]
    for bucket in body["data"]:
        hour = datetime.fromisoformat(bucket["timestamp"])
        inside = [
            i
            for i in range(30)
            if start <= created(i) <= end and hour <= created(i) < hour + timedelta(hours=1)
        ]
        labels = Counter(LABELS[i % 3][0].value for i in inside)
        assert bucket["total_count"] == len(inside)
        for label in ("positive", "negative", "neutral"):
            assert bucket[f"{label}_count"] == labels[label]
        if inside:
            assert sum(bucket[f"{label}_percentage"] for label in labels) == pytest.approx(100.0, abs=1e-9)
            mean = sum(0.5 + i / 100 for i in inside) / len(inside)
            assert bucket["average_confidence"] == pytest.approx(mean, abs=1e-4)
    everything = [i for i in range(30) if start <= created(i) <= end]
    assert body["summary"] == {
        "total_posts": len(everything),
        "positive_total": sum(1 for i in everything if i % 3 == 0),
        "negative_total": sum(1 for i in everything if i % 3 == 1),
        "neutral_total": sum(1 for i in everything if i % 3 == 2),
    }


async def test_empty_buckets_are_there_with_zeros_and_a_source_filters(
    api: httpx.AsyncClient, posts: list[str]
) -> None:
    params = {
        "start_date": format_utc(NOW - timedelta(hours=48)),
        "end_date": format_utc(NOW - timedelta(hours=24)),
    }
    data = (await api.get("/api/sentiment/aggregate", params=params)).json()["data"]
    assert len(data) == 25
    assert all(d["total_count"] == 0 and d["positive_percentage"] == 0.0 for d in data)
    reddit = (await api.get("/api/sentiment/aggregate", params={"source": "reddit"})).json()["summary"]
    assert reddit == {"total_posts": 10, "positive_total": 0, "negative_total": 10, "neutral_total": 0}


async def test_the_distribution_over_the_last_hour(api: httpx.AsyncClient, posts: list[str]) -> None:
    body = (await api.get("/api/sentiment/distribution", params={"hours": 1})).json()
    assert body["timeframe_hours"] == 1
    assert body["distribution"] == {"negative": 2, "neutral": 2, "positive": 2}
    assert body["total"] == 6
    assert sum(body["percentages"].values()) == pytest.approx(100.0, abs=1e-9)
    assert body["top_emotions"] == {"anger": 2, "joy": 2, "neutral": 2}
    nothing = (await api.get("/api/sentiment/distribution", params={"source": "myspace"})).json()
    assert nothing["total"] == 0
    assert nothing["percentages"] == {"negative": 0.0, "neutral": 0.0, "positive": 0.0}


async def test_emotions_per_bucket_name_all_seven(api: httpx.AsyncClient, posts: list[str]) -> None:
    body = (await api.get("/api/sentiment/emotions", params={"period": "day"})).json()
    assert len(body["data"]) in (1, 2)  # the last 24 hours span one or two UTC days
    for bucket in body["data"]:
        assert set(bucket["counts"]) == {"anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"}
        assert bucket["total"] == sum(bucket["counts"].values())
    assert sum(b["total"] for b in body["data"]) == 30


def test_shares_sum_to_exactly_100() -> None:
    for counts in (
        {"a": 1, "b": 1, "c": 1},
        {"a": 2, "b": 1, "c": 0},
        {"a": 1, "b": 5, "c": 7},
        {"a": 0, "b": 0},
    ):
        shares = percentages(counts)
        assert sum(shares.values()) == pytest.approx(100.0 if any(counts.values()) else 0.0, abs=1e-9)
        assert all(round(v, 2) == v for v in shares.values())


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("/api/sentiment/aggregate", {"period": "week"}, "period"),
        ("/api/sentiment/aggregate", {"period": "minute", "start_date": "2026-01-01T00:00:00Z"}, "period"),
        (
            "/api/sentiment/aggregate",
            {"start_date": "2026-11-28T10:00:00Z", "end_date": "2026-11-27T10:00:00Z"},
            "start_date",
        ),
        ("/api/sentiment/aggregate", {"end_date": "soon"}, "end_date"),
        ("/api/sentiment/emotions", {"period": "fortnight"}, "period"),
        ("/api/sentiment/distribution", {"hours": "0"}, "hours"),
        ("/api/sentiment/distribution", {"hours": "169"}, "hours"),
    ],
)
async def test_a_range_or_period_that_cannot_be_served_is_a_422_naming_it(
    api: httpx.AsyncClient, path: str, params: dict[str, str], named: str
) -> None:
    response = await api.get(path, params=params)
    assert response.status_code == 422, response.text
    assert named in [error["loc"][-1] for error in response.json()["detail"]]


def test_a_range_is_cut_into_whole_hours_whole_minutes_and_the_rest() -> None:
    start = datetime(2026, 11, 28, 9, 58, 30, tzinfo=UTC)
    stop = datetime(2026, 11, 28, 12, 1, 15, tzinfo=UTC)
    cut = pieces(start, stop, ("hour", "minute"))
    assert cut == [
        (None, start, start.replace(minute=59, second=0)),
        ("minute", start.replace(minute=59, second=0), start.replace(hour=10, minute=0, second=0)),
        ("hour", start.replace(hour=10, minute=0, second=0), stop.replace(minute=0, second=0)),
        ("minute", stop.replace(minute=0, second=0), stop.replace(second=0)),
        (None, stop.replace(second=0), stop),
    ]
    for _ in range(200):  # any range: covered exactly, in order, each piece whole buckets of its grain
        rng = random.Random(_)
        lo = start + timedelta(seconds=rng.choice([0, 30, 60, 3600, rng.uniform(0, 20_000)]))
        hi = lo + timedelta(seconds=rng.choice([0, 1, 60, 3600, rng.uniform(0, 20_000)]))
        cut = pieces(lo, hi, ("hour", "minute"))
        assert all(a < b for _, a, b in cut)
        assert [a for _, a, _ in cut[1:]] == [b for _, _, b in cut[:-1]]
        assert (cut[0][1], cut[-1][2]) == (lo, hi) if cut else lo == hi
        for grain, a, b in cut:
            if grain:
                assert floor(a, grain) == a
                assert floor(b, grain) == b


async def test_every_answer_matches_counting_the_posts_one_by_one(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    """Random posts over three hours (many on a minute or hour boundary), random ranges (many ending on a
    boundary): the rollup-backed answers equal a count over the posts themselves."""
    rng = random.Random(7)
    base = days_ago(4, hour=9, minute=58)
    made = []
    for i in range(400):
        offset = rng.choice([0, 60, 120, 3600, 3660, rng.uniform(0, 3 * 3600)])
        made.append(
            (
                f"agg-{i}",
                base + timedelta(seconds=offset),
                rng.choice(["twitter", "reddit"]),
                rng.choice(list(Sentiment)),
                rng.choice(list(Emotion)),
                round(rng.random(), 4),
            )
        )
    session.add_all(
        SocialMediaPost(post_id=p, source=s, content="text", author="a", created_at=c) for p, c, s, *_ in made
    )
    await session.flush()
    session.add_all(
        SentimentAnalysis(
            post_id=p, created_at=c, model_name="m", sentiment_label=s, emotion=e, confidence_score=x
        )
        for p, c, _, s, e, x in made
    )
    await session.commit()
    aggregator = SentimentAggregator(engine)

    def edge() -> datetime:
        return base + timedelta(seconds=rng.choice([0, 60, 3600, 3600.5, rng.uniform(-600, 4 * 3600)]))

    for _ in range(25):
        start, end = sorted([edge(), edge()])
        source = rng.choice([None, "twitter"])
        inside = [m for m in made if start <= m[1] <= end and source in (None, m[2])]
        for period in ("minute", "hour", "day"):
            if len(buckets(start, end, period)) > 300:
                continue
            data = await aggregator.sentiment_over_time(start, end, period, source)
            want = Counter((floor(m[1], period), str(m[3])) for m in inside)
            got = Counter({(d["timestamp"], s.value): d[f"{s}_count"] for d in data for s in Sentiment})
            assert +got == want, (start, end, period, source)
            confidence = {d["timestamp"]: d["average_confidence"] * d["total_count"] for d in data}
            for slot in {floor(m[1], period) for m in inside}:
                mine = [m[5] for m in inside if floor(m[1], period) == slot]
                assert confidence[slot] == pytest.approx(sum(mine), abs=1e-3 * len(mine))
            emotions = await aggregator.emotions_over_time(start, end, period, source)
            want = Counter((floor(m[1], period), str(m[4])) for m in inside)
            assert (
                +Counter({(d["timestamp"], e): n for d in emotions for e, n in d["counts"].items()}) == want
            )
        found = await aggregator.distribution(start, end, source)
        assert found["distribution"] == {s.value: sum(m[3] == s for m in inside) for s in Sentiment}
        assert found["top_emotions"] == +Counter(str(m[4]) for m in inside)
        sentiment = rng.choice([None, *Sentiment])
        emotion = rng.choice([None, *Emotion])
        assert await aggregator.total(Filters(start, end, source, sentiment, emotion)) == sum(
            1 for m in inside if sentiment in (None, m[3]) and emotion in (None, m[4])
        )
    assert await aggregator.total(Filters()) == len(made)


@pytest.mark.parametrize("end_date", ["0001-01-01T00:30:00Z", "9999-12-31T23:59:59.999999Z"])
async def test_the_ends_of_the_calendar_are_answered_not_a_500(api: httpx.AsyncClient, end_date: str) -> None:
    for path in ("/api/sentiment/aggregate", "/api/sentiment/emotions", "/api/posts"):
        response = await api.get(path, params={"end_date": end_date})
        assert response.status_code == 200, (path, response.text)
