"""The answer cache on the real Redis: answers kept for their TTL by path and query, and viewers asking at
once for an answer not kept yet sharing one build."""

import asyncio
from datetime import timedelta

import httpx
import redis.asyncio as aioredis
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.backend.app import create_app
from services.common.labels import Sentiment
from services.common.names import RedisNames
from services.common.settings import Settings
from services.common.timestamps import format_utc
from tests.backend.conftest import NOW, add_posts, client_for, client_of, served


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
        longer = (await client.get("/api/posts", params={"limit": 11})).json()
        assert len(longer["posts"]) == 5
        # The total is kept apart, for every page of these filters: never less than the page shows.
        assert longer["total"] == 5
        ttl = {key: await redis.pttl(key) async for key in redis.scan_iter(match=names.cache_key("*"))}
        pages = {key for key in ttl if b"/api/posts" in key and b"total" not in key}
        assert len(ttl) == 6, list(ttl)
        assert len(pages) == 2
        assert all(0 < ttl[key] <= 30_000 for key in pages)
        # the aggregations, and the pages' total, which is a count like them
        assert all(30_000 < t <= 60_000 for key, t in ttl.items() if key not in pages)


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


async def test_a_build_nobody_waits_for_any_more_is_cancelled_with_its_query(
    settings: Settings, engine: AsyncEngine, redis: aioredis.Redis, names: RedisNames
) -> None:
    """Two viewers ask for an answer whose query cannot finish (its table is locked); when both have hung
    up, the query is gone from PostgreSQL before the lock is let go, and a viewer that stays still gets
    its answer."""
    await forget_answers(redis, names)

    async def running() -> int:
        async with engine.connect() as conn:
            found = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state = 'active' AND query LIKE '%sentiment_rollup%' AND pid <> pg_backend_pid()"
                )
            )
        return int(found or 0)

    # A statement timeout longer than the test: only the cancel can end the query in time.
    patient = {"cache_ttl_s": 60, "api_statement_timeout_ms": 120_000}
    async with served(settings.model_copy(update=patient)) as address:
        async with engine.connect() as locker:
            await locker.execute(text("BEGIN"))
            await locker.execute(text("LOCK TABLE sentiment_rollup IN ACCESS EXCLUSIVE MODE"))
            base = f"http://{address}"
            viewers = [
                asyncio.create_task(httpx.AsyncClient(base_url=base).get("/api/sentiment/distribution"))
                for _ in range(2)
            ]
            async with asyncio.timeout(10):
                while not await running():
                    await asyncio.sleep(0.05)
            for viewer in viewers:  # both hang up: httpx closes the connection on cancel
                viewer.cancel()
            await asyncio.gather(*viewers, return_exceptions=True)
            async with asyncio.timeout(5):
                while await running():
                    await asyncio.sleep(0.05)
            await locker.execute(text("ROLLBACK"))
        async with httpx.AsyncClient(base_url=base) as client:
            assert (await client.get("/api/sentiment/distribution")).status_code == 200
