"""The API when its peers fail, on the real services: a Redis error is a cache miss, Redis refusing writes
is a 503 on ingest, a stuck database a 503 on reads; /api/health reports Redis's persistence and the dead
letters."""

import asyncio

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.common.names import RedisNames
from services.common.settings import Settings
from services.worker import dead_letters
from tests.backend.conftest import client_for
from tests.backend.test_ingest import AUTH, TOKEN, post
from tests.support import LoneRedis, free_port

pytestmark = pytest.mark.usefixtures("session", "redis")


async def test_a_redis_error_in_the_answer_cache_is_a_miss_answered_from_postgresql(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    async for client in client_for(settings.model_copy(update={"feed_cache_ttl_s": 30})):
        assert (await client.get("/api/posts", params={"limit": 3})).status_code == 200
        for key in [k async for k in redis.scan_iter(match=names.cache_key("*"))]:  # the page and its total
            await redis.delete(key)
            await redis.hset(key, "not", "a string")  # GET on it answers WRONGTYPE: an error, not a value
        answer = await client.get("/api/posts", params={"limit": 3})
        assert answer.status_code == 200
        assert answer.json()["total"] == 0


async def test_ingest_answers_503_while_redis_refuses_writes(
    settings: Settings, lone_redis: LoneRedis
) -> None:
    lone_redis.start()
    client = aioredis.Redis(port=lone_redis.port)
    for _ in range(100):
        try:
            await client.config_set("maxmemory", 1)  # noeviction: every write is refused with OOM
            break
        except (ConnectionError, OSError, aioredis.ConnectionError):
            await asyncio.sleep(0.05)
    served = settings.model_copy(
        update={"redis_url": f"redis://127.0.0.1:{lone_redis.port}/0", "ingest_token": SecretStr(TOKEN)}
    )
    try:
        async for api in client_for(served):
            refused = await api.post("/api/ingest", json={"posts": [post(1)]}, headers=AUTH)
            assert refused.status_code == 503
            assert int(refused.headers["retry-after"]) > 0
            await client.config_set("maxmemory", 0)
            accepted = await api.post("/api/ingest", json={"posts": [post(1)]}, headers=AUTH)
            assert accepted.status_code == 202
    finally:
        await client.aclose()


async def test_a_read_stuck_in_postgresql_is_cancelled_and_answered_503(
    settings: Settings, engine: AsyncEngine
) -> None:
    served = settings.model_copy(update={"api_statement_timeout_ms": 300, "feed_cache_ttl_s": 0})
    async for api in client_for(served):
        async with engine.connect() as blocker:
            await blocker.execute(text("LOCK TABLE sentiment_rollup IN ACCESS EXCLUSIVE MODE"))
            answer = await asyncio.wait_for(api.get("/api/posts"), 10)
            await blocker.rollback()
        assert answer.status_code == 503
        assert int(answer.headers["retry-after"]) > 0
        assert (await api.get("/api/posts")).status_code == 200


async def test_a_read_while_postgresql_does_not_answer_is_a_503(settings: Settings) -> None:
    away = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing"
    async for api in client_for(settings.model_copy(update={"database_url": away, "feed_cache_ttl_s": 0})):
        answer = await api.get("/api/posts")
        assert answer.status_code == 503
        assert int(answer.headers["retry-after"]) > 0


async def test_health_reports_redis_persistence_and_degrades_once_dead_letters_pile_up(
    settings: Settings, session: AsyncSession, redis: aioredis.Redis
) -> None:
    kept = (await redis.config_get("appendonly"))["appendonly"] == "yes"
    async for api in client_for(settings.model_copy(update={"dead_letters_degraded_at": 2})):
        body = (await api.get("/api/health")).json()
        assert body["dead_letters"] == 0
        assert body["redis_persistence"] in ("appendonly", "snapshots", "none")
        assert (body["redis_persistence"] == "appendonly") == kept
        if body["redis_persistence"] == "none":
            assert any("keeps nothing on disk" in w for w in body["warnings"])
        letters = [(f"1-{i}", {b"post_id": b"x"}, "author: required") for i in range(2)]
        await dead_letters.keep(session, letters, "w")
        body = (await api.get("/api/health")).json()
        assert body["dead_letters"] == 2
        assert body["status"] == "degraded"
        assert any(w.startswith("2 posts are dead letters") for w in body["warnings"])
        assert "dead_letters 2.0" in (await api.get("/metrics")).text
