"""The REST API on the real PostgreSQL, Redis and Triton: exact shapes, filters, paging, and a 422 that names
the parameter for every bad value."""

import asyncio
import gc
from datetime import timedelta

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from services.backend.app import create_app
from services.common.db.models import SocialMediaPost
from services.common.labels import Sentiment
from services.common.names import RedisNames
from services.common.settings import Settings
from services.common.timestamps import format_utc
from tests.backend.conftest import NOW, add_posts, client_for, client_of
from tests.support import free_port


async def test_health_reports_every_service_and_the_counts(api: httpx.AsyncClient, posts: list[str]) -> None:
    response = await api.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["services"] == {"database": "connected", "redis": "connected", "triton": "connected"}
    assert body["stats"] == {"total_posts": 30, "total_analyses": 30, "recent_posts_1h": 6}
    assert body["timestamp"].endswith("Z")


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
    assert set(first) == {"post_id", "source", "content", "author", "created_at", "sentiment"}
    assert first["sentiment"] == {
        "label": "negative",
        "confidence": 0.51,
        "emotion": "anger",
        "model_name": "minilm-bundle@2",
    }
    assert set(body["filters"]) >= {"source", "sentiment", "emotion", "start_date", "end_date"}
    second = (await api.get("/api/posts", params={"limit": 5, "offset": 5})).json()
    assert [p["post_id"] for p in second["posts"]] == [f"api-{i}" for i in range(5, 10)]


async def test_filters_combine_and_unknown_values_match_nothing(
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
    assert await ids(sentiment="ecstatic") == []
    assert await ids(source="myspace") == []


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


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"start_date": "yesterday"}, "start_date"),
        ({"end_date": "2026-11-28T10:00:00"}, "end_date"),  # no offset
        ({"start_date": "2026-11-28T10:00:00Z", "end_date": "2026-11-27T10:00:00Z"}, "start_date"),
        ({"before": "no-such-post"}, "before"),
        ({"source": "s" * 65}, "source"),
        ({"source": "twit\x00ter"}, "source"),  # PostgreSQL text cannot hold NUL
        ({"emotion": "joy\n"}, "emotion"),
    ],
)
async def test_a_bad_parameter_gets_a_422_that_names_it(
    api: httpx.AsyncClient, posts: list[str], params: dict[str, str], named: str
) -> None:
    response = await api.get("/api/posts", params=params)
    assert response.status_code == 422, response.text
    assert named in [error["loc"][-1] for error in response.json()["detail"]]


async def forget_answers(redis: aioredis.Redis, names: RedisNames) -> None:
    async for key in redis.scan_iter(match=names.cache_key("*")):
        await redis.delete(key)


async def test_aggregations_and_post_pages_are_cached_for_their_ttl_by_path_and_query(
    settings: Settings, session: AsyncSession, redis: aioredis.Redis, names: RedisNames
) -> None:
    await add_posts(session, [(Sentiment.NEGATIVE, NOW - timedelta(minutes=1))] * 3)
    ttls = {"cache_ttl_s": 60, "feed_cache_ttl_s": 30}
    await forget_answers(redis, names)  # left by the tests before
    async for client in client_for(settings.model_copy(update=ttls)):
        params = {"period": "hour", "end_date": format_utc(NOW)}
        first = (await client.get("/api/sentiment/aggregate", params=params)).json()
        assert first["summary"]["total_posts"] == 3
        page = (await client.get("/api/posts", params={"limit": 10})).json()
        assert page["total"] == 3
        await add_posts(session, [(Sentiment.POSITIVE, NOW - timedelta(minutes=1))] * 2, prefix="more")
        again = (await client.get("/api/sentiment/aggregate", params=params)).json()
        assert again == first  # within the TTL: the kept answer
        assert (await client.get("/api/posts", params={"limit": 10})).json() == page
        other = (await client.get("/api/sentiment/aggregate", params=params | {"period": "day"})).json()
        assert other["summary"]["total_posts"] == 5
        distribution = (await client.get("/api/sentiment/distribution", params={"hours": 1})).json()
        assert distribution["total"] == 5
        assert len((await client.get("/api/posts", params={"limit": 11})).json()["posts"]) == 5
        ttl = {key: await redis.pttl(key) async for key in redis.scan_iter(match=names.cache_key("*"))}
        pages = [t for key, t in ttl.items() if b"/api/posts" in key]
        assert len(ttl) == 5, list(ttl)
        assert len(pages) == 2
        assert all(0 < t <= 30_000 for t in pages)
        assert all(30_000 < t <= 60_000 for key, t in ttl.items() if b"/api/posts" not in key)


async def test_viewers_asking_at_once_for_an_answer_not_kept_yet_share_one_build(
    settings: Settings, session: AsyncSession, redis: aioredis.Redis, names: RedisNames
) -> None:
    await add_posts(session, [(Sentiment.NEGATIVE, NOW - timedelta(minutes=1))] * 3)
    app = create_app(settings.model_copy(update={"cache_ttl_s": 60, "feed_cache_ttl_s": 30}))
    statements: list[str] = []
    asks = [("/api/sentiment/aggregate", {"period": "minute"}), ("/api/posts", {"limit": "7"})]
    async for client in client_of(app):
        event.listen(
            app.state.backend.reads.sync_engine,  # the reads (the alert checks use the engine)
            "before_cursor_execute",
            lambda _conn, _cursor, statement, *_: statements.append(statement),
        )
        for path, params in asks:
            alone: list[str] = []
            for viewers in (1, 10):
                await forget_answers(redis, names)
                statements.clear()
                answers = await asyncio.gather(*(client.get(path, params=params) for _ in range(viewers)))
                assert {a.status_code for a in answers} == {200}
                assert len({a.content for a in answers}) == 1
                alone = alone or sorted(statements)  # a page's rows and total run at once: any order
                assert sorted(statements) == alone, path  # ten viewers at once: the queries of one


async def test_while_the_api_runs_what_it_made_at_start_is_left_out_of_full_collections(
    settings: Settings,
) -> None:
    assert gc.get_freeze_count() == 0
    async for _client in client_for(settings):
        assert gc.get_freeze_count() > 10_000  # the modules, the app, its clients
    assert gc.get_freeze_count() == 0


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
