"""The REST reads on the real PostgreSQL, Redis and Triton: health, exact shapes, filters, paging, the alerts,
and a 422 that names the parameter for every bad value."""

from datetime import timedelta

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.backend.health import ESTIMATE
from services.common.db.models import SentimentAlert, SocialMediaPost
from services.common.db.partitions import POSTS
from services.common.labels import Sentiment
from services.common.names import RedisNames
from services.common.settings import Settings
from services.common.sources import SourceStatus
from services.common.timestamps import format_utc, utcnow
from tests.backend.conftest import NOW, add_posts, client_for
from tests.support import free_port


async def test_health_reports_every_service_and_the_counts(api: httpx.AsyncClient, posts: list[str]) -> None:
    response = await api.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["services"] == {"database": "connected", "redis": "connected", "triton": "connected"}
    assert body["stats"] == {"total_posts": 30, "total_analyses": 30, "recent_posts_1h": 6}
    assert body["timestamp"].endswith("Z")


async def test_health_has_a_line_per_live_source_and_warns_of_what_needs_a_look(
    api: httpx.AsyncClient, redis: aioredis.Redis, names: RedisNames
) -> None:
    now = utcnow()
    reports = [
        SourceStatus(source="bluesky", state="live", updated_at=now, events=10, posts=8, behind_s=0.4),
        SourceStatus(source="mastodon", state="live", updated_at=now - timedelta(minutes=5)),
        SourceStatus(source="rss", state="live", updated_at=now, missed_s=120.0),
        SourceStatus(
            source="hackernews", state="reconnecting", updated_at=now, detail="ConnectionRefusedError"
        ),
    ]
    for report in reports:
        await redis.hset(names.source_status, report.source, report.model_dump_json())
    await redis.hset(names.source_status, "other", b"{written by another version")
    body = (await api.get("/api/health")).json()
    assert [line["source"] for line in body["sources"]] == ["bluesky", "hackernews", "mastodon", "rss"]
    assert body["sources"][0]["posts"] == 8
    assert body["status"] == "healthy", "a source's trouble is a warning, never the API's"
    text = "\n".join(body["warnings"])
    assert "source mastodon: no report since" in text
    assert "source rss: 120 s of posts were missed" in text
    assert "source hackernews: reconnecting: ConnectionRefusedError" in text
    assert "bluesky" not in text


async def test_the_estimate_of_a_partitioned_table_sums_its_partitions(
    posts: list[str], engine: AsyncEngine
) -> None:
    """Autovacuum analyses the partitions, never their parent: the estimate that spares /api/health a
    COUNT(*) of every post comes from the partitions."""
    async with engine.begin() as conn:
        days = await conn.scalars(
            text("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = CAST(:t AS regclass)"),
            {"t": POSTS},
        )
        for day in list(days):
            await conn.execute(text(f"ANALYZE {day}"))
        parent = await conn.scalar(text("SELECT reltuples FROM pg_class WHERE relname = :t"), {"t": POSTS})
        assert parent == -1, "the parent itself is never analysed"
        assert await conn.scalar(ESTIMATE, {"table": POSTS}) == len(posts)


async def test_health_is_degraded_without_triton_and_unhealthy_without_the_database(
    settings: Settings,
) -> None:
    no_triton = settings.model_copy(update={"triton_url": f"127.0.0.1:{free_port()}"})
    async for client in client_for(no_triton):
        response = await client.get("/api/health")
        assert response.status_code == 200
        assert response.json()["status"] == "degraded"
        assert response.json()["services"]["triton"] == "disconnected"
    dead = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing"
    no_database = settings.model_copy(update={"database_url": dead, "triton_url": f"127.0.0.1:{free_port()}"})
    async for client in client_for(no_database):
        response = await client.get("/api/health")
        assert response.status_code == 503
        assert response.json()["status"] == "unhealthy"
        assert response.json()["stats"] is None


async def test_posts_come_newest_first_in_the_contract_shape(
    api: httpx.AsyncClient, posts: list[str]
) -> None:
    body = (await api.get("/api/posts", params={"limit": 5})).json()
    assert body["total"] == 30
    assert (body["limit"], body["offset"]) == (5, 0)
    assert [p["post_id"] for p in body["posts"]] == ["api-1", "api-0", "api-2", "api-3", "api-4"]
    first = body["posts"][0]
    assert set(first) == {
        "post_id",
        "source",
        "content",
        "author",
        "created_at",
        "sentiment",
        "lang",
        "url",
        "headline",
    }
    assert (first["lang"], first["url"]) == ("fr", "https://example.social/@user1/1")
    assert first["headline"] is None  # a search's alone
    assert first["sentiment"] == {
        "label": "negative",
        "confidence": 0.51,
        "emotion": "anger",
        "model_name": "minilm-bundle@2",
    }
    assert set(body["filters"]) >= {"source", "sentiment", "emotion", "start_date", "end_date"}
    second = (await api.get("/api/posts", params={"limit": 5, "offset": 5})).json()
    assert [p["post_id"] for p in second["posts"]] == [f"api-{i}" for i in range(5, 10)]


async def test_filters_combine_and_unknown_sources_match_nothing(
    api: httpx.AsyncClient, posts: list[str]
) -> None:
    async def ids(**params: str) -> list[str]:
        response = await api.get("/api/posts", params={"limit": 100, **params})
        assert response.status_code == 200, response.text
        return [p["post_id"] for p in response.json()["posts"]]

    assert len(await ids(source="reddit")) == 10
    assert await ids(source="reddit", sentiment="negative") == [f"api-{i}" for i in range(1, 30, 3)]
    assert len(await ids(emotion="joy")) == 10
    start = (NOW - timedelta(minutes=25)).isoformat()
    end = (NOW - timedelta(minutes=5)).isoformat()
    assert await ids(start_date=start, end_date=end) == ["api-2"]
    assert await ids(source="myspace") == []
    assert await ids(lang="fr") == [f"api-{i}" for i in [1, 4, 7, 10, 13, 16, 19, 22, 25, 28]]
    assert await ids(lang="fr", sentiment="negative") == await ids(lang="fr")
    assert await ids(lang="de") == []
    totals = (await api.get("/api/posts", params={"lang": "en", "limit": 1})).json()
    assert (totals["total"], totals["filters"]["lang"]) == (10, "en"), "the total counts by language too"


async def test_the_cursor_pages_a_live_feed_without_repeats_or_gaps(
    api: httpx.AsyncClient, posts: list[str], session: AsyncSession
) -> None:
    seen: list[str] = []
    before = None
    while True:
        params = {"limit": 7} | ({"before": before} if before else {})
        page = (await api.get("/api/posts", params=params)).json()["posts"]
        if not page:
            break
        seen += [p["post_id"] for p in page]
        before = page[-1]["post_id"]
        if len(seen) == 7:  # a new post arrives while paging: it is newer, so no page shifts
            session.add(SocialMediaPost(post_id="late", source="x", content="c", author="a", created_at=NOW))
            await session.commit()
    assert len(seen) == 30
    assert sorted(seen) == sorted(posts)


async def test_a_page_reaches_as_far_back_as_its_matches_go(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    """The feed reads only the days the rollup says hold its page: a rare filter whose matches are days
    apart, and pages that cross the first day looked at, still come whole, in order."""
    hours = [1, 2, 20, 23, 25, 30, 49, 75, 100]  # hours ago: within the last day and far beyond it
    when = [NOW - timedelta(hours=h, minutes=7) for h in hours]
    rare = await add_posts(session, [(Sentiment.NEGATIVE, t) for t in when[::3]], prefix="rare")
    common = await add_posts(session, [(Sentiment.POSITIVE, t) for t in when], prefix="common")
    found = (await api.get("/api/posts", params={"sentiment": "negative"})).json()
    assert [p["post_id"] for p in found["posts"]] == rare
    assert found["total"] == len(rare)
    everything = [p["post_id"] for p in (await api.get("/api/posts", params={"limit": 100})).json()["posts"]]
    assert sorted(everything) == sorted(rare + common)
    for limit, offset in ((2, 0), (2, 2), (3, 4), (4, 8), (5, 15)):
        page = (await api.get("/api/posts", params={"limit": limit, "offset": offset})).json()["posts"]
        assert [p["post_id"] for p in page] == everything[offset : offset + limit], (limit, offset)
    older = (await api.get("/api/posts", params={"before": everything[3], "limit": 100})).json()["posts"]
    assert [p["post_id"] for p in older] == everything[4:]
    created = dict(zip(rare + common, when[::3] + when, strict=True))
    ended = (await api.get("/api/posts", params={"end_date": format_utc(when[4]), "limit": 3})).json()
    assert [p["post_id"] for p in ended["posts"]] == [p for p in everything if created[p] <= when[4]][:3]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"start_date": "yesterday"}, "start_date"),
        ({"end_date": "2026-11-28T10:00:00+25:00"}, "end_date"),  # no such offset
        ({"sentiment": "ecstatic"}, "sentiment"),  # no such label
        ({"offset": "10001"}, "offset"),  # past the cap: page with before
        ({"start_date": "2026-11-28T10:00:00Z", "end_date": "2026-11-27T10:00:00Z"}, "start_date"),
        ({"before": "no-such-post"}, "before"),
        ({"source": "s" * 65}, "source"),
        ({"source": "twit\x00ter"}, "source"),  # PostgreSQL text cannot hold NUL
        ({"emotion": "joy\n"}, "emotion"),
        ({"lang": "english"}, "lang"),
        ({"lang": "EN"}, "lang"),
    ],
)
async def test_a_bad_posts_parameter_gets_a_422_that_names_it(
    api: httpx.AsyncClient, posts: list[str], params: dict[str, str], named: str
) -> None:
    response = await api.get("/api/posts", params=params)
    assert response.status_code == 422, response.text
    assert named in [error["loc"][-1] for error in response.json()["detail"]]


async def test_the_dashboards_origin_may_call_the_api_and_others_get_no_cors_headers(
    api: httpx.AsyncClient,
) -> None:
    allowed = await api.get("/api/alerts", headers={"Origin": "http://localhost:3000"})
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    preflight = await api.options(
        "/api/ingest",
        headers={"Origin": "http://127.0.0.1:3000", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200
    other = await api.get("/api/alerts", headers={"Origin": "http://elsewhere.example"})
    assert "access-control-allow-origin" not in other.headers


@pytest.fixture
async def alerts(session: AsyncSession) -> None:
    for i in range(12):
        at = NOW - timedelta(hours=i)
        session.add(
            SentimentAlert(
                alert_type="high_negative_ratio",
                threshold_value=2.0,
                actual_value=2.5 + i,
                window_start=at - timedelta(minutes=5),
                window_end=at,
                post_count=20 + i,
                triggered_at=at,
                details={"negative": 10 + i, "positive": 4},
            )
        )
    await session.commit()


@pytest.mark.usefixtures("alerts")
async def test_alerts_come_newest_first_in_the_contract_shape(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/alerts", params={"limit": 5, "offset": 2})).json()
    assert (body["total"], body["limit"], body["offset"]) == (12, 5, 2)
    assert [a["actual_value"] for a in body["alerts"]] == [4.5, 5.5, 6.5, 7.5, 8.5]
    first = body["alerts"][0]
    assert set(first) == {
        "id",
        "alert_type",
        "threshold_value",
        "actual_value",
        "window_start",
        "window_end",
        "post_count",
        "triggered_at",
        "details",
    }
    assert first["triggered_at"] == format_utc(NOW - timedelta(hours=2))
    assert first["details"] == {"negative": 12, "positive": 4}


@pytest.mark.usefixtures("alerts")
async def test_alerts_filter_by_when_they_were_raised(api: httpx.AsyncClient) -> None:
    params = {
        "start_date": format_utc(NOW - timedelta(hours=3)),
        "end_date": format_utc(NOW - timedelta(hours=1)),
    }
    body = (await api.get("/api/alerts", params=params)).json()
    assert body["total"] == 3
    assert [a["post_count"] for a in body["alerts"]] == [21, 22, 23]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"limit": "0"}, "limit"),
        ({"offset": "x"}, "offset"),
        ({"start_date": "2026-13-01T00:00:00Z"}, "start_date"),
        ({"start_date": "2026-11-28T10:00:00Z", "end_date": "2026-11-27T10:00:00Z"}, "start_date"),
    ],
)
async def test_a_bad_alerts_parameter_gets_a_422_that_names_it(
    api: httpx.AsyncClient, params: dict[str, str], named: str
) -> None:
    response = await api.get("/api/alerts", params=params)
    assert response.status_code == 422, response.text
    assert named in [error["loc"][-1] for error in response.json()["detail"]]
