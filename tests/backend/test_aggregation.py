"""The aggregation endpoints on the real PostgreSQL: buckets of created_at in UTC, empty ones filled in,
shares that sum to 100, and 422s for ranges and periods that cannot be served."""

from collections import Counter
from datetime import datetime, timedelta

import httpx
import pytest

from services.backend.aggregation import percentages
from services.common.timestamps import format_utc
from tests.backend.conftest import LABELS, NOW


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
