"""The Hacker News source against a local Firebase API (tests/fakes/hackernews.py) and the real Redis: what
each item becomes, an item not there yet, the cursor, and the recheck that turns a later delete into one."""

import asyncio

import httpx
import redis.asyncio as aioredis

from services.common.messages import PostMessage
from services.common.names import RedisNames
from services.common.settings import Settings
from services.ingester.hackernews import HackerNews
from tests.fakes.hackernews import FakeHackerNews, comment, story
from tests.ingester.streams import on_stream, outlet_for


async def rounds(
    settings: Settings,
    redis: aioredis.Redis,
    names: RedisNames,
    server: FakeHackerNews,
    n: int = 1,
    recheck_s: float = 3600,
) -> HackerNews:
    """``n`` rounds of the source, as its loop runs them."""
    settings = settings.model_copy(
        update={"hackernews_api_url": server.url, "hackernews_recheck_s": recheck_s}
    )
    outlet = outlet_for("hackernews", settings, redis, names)
    producer = outlet.producer
    async with httpx.AsyncClient() as client:
        source = HackerNews(settings, producer, outlet, asyncio.Event(), client)
        saved = await producer.writer.cursor("hackernews")
        source.cursor = int(saved) if saved else None
        for _ in range(n):
            await source.round()
    return source


async def test_stories_and_comments_become_posts_and_the_rest_is_counted(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    items = {
        101: story(101, "Show HN: a self-hosted social listening platform", url="https://example.org/x"),
        102: comment(102, "I like it, but the <i>docs</i> are thin<p>Also: &#x27;why Triton?&#x27;"),
        103: {"id": 103, "type": "job", "by": "yc", "time": 1_780_000_000, "title": "We are hiring"},
        104: comment(104, "spam", dead=True),
        105: {"id": 105, "deleted": True, "type": "comment", "time": 1_780_000_000},
        106: story(106, "Ask HN: what do you read?", 'Books, mostly <a href="x">this one</a>'),
    }
    await redis.hset(names.ingest_cursors, "hackernews", "100")
    with FakeHackerNews(items) as server:
        source = await rounds(settings, redis, names, server)
    posts = [m for m in await on_stream(redis, names) if isinstance(m, PostMessage)]
    assert [p.post_id for p in posts] == ["hn:101", "hn:102", "hn:106"]
    first, second, third = posts
    assert first.content == "Show HN: a self-hosted social listening platform"
    assert first.url == "https://news.ycombinator.com/item?id=101"
    assert (first.author, first.lang, first.source) == ("pg", "en", "hackernews")
    assert second.content == "I like it, but the docs are thin\n\nAlso: 'why Triton?'"
    assert third.content == "Ask HN: what do you read?\n\nBooks, mostly this one"
    assert source.outlet.skips == {"other kind": 1, "deleted": 2}
    assert await redis.hget(names.ingest_cursors, "hackernews") == b"106"


async def test_an_item_not_there_yet_ends_the_round_and_is_read_the_next(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    items = {201: story(201, "first"), 203: story(203, "third")}
    await redis.hset(names.ingest_cursors, "hackernews", "200")
    with FakeHackerNews(items, maxitem=203) as server:
        await rounds(settings, redis, names, server)
        assert [m.post_id for m in await on_stream(redis, names)] == ["hn:201"]
        assert await redis.hget(names.ingest_cursors, "hackernews") == b"201", "stops before the missing one"
        server.items[202] = story(202, "second")
        await rounds(settings, redis, names, server)
    assert [m.post_id for m in await on_stream(redis, names)] == ["hn:201", "hn:202", "hn:203"]


async def test_a_first_start_reads_from_now_on(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    with FakeHackerNews({301: story(301, "old news")}, maxitem=301) as server:
        await rounds(settings, redis, names, server)
        assert await redis.xlen(names.stream) == 0
        server.items[302] = story(302, "new news")
        server.maxitem = 302
        await rounds(settings, redis, names, server)
    assert [m.post_id for m in await on_stream(redis, names)] == ["hn:302"]


async def test_an_item_deleted_after_it_was_sent_is_deleted_here_on_its_recheck(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    await redis.hset(names.ingest_cursors, "hackernews", "400")
    with FakeHackerNews({401: comment(401, "a hasty comment"), 402: comment(402, "a kept one")}) as server:
        await rounds(settings, redis, names, server, recheck_s=0.5)  # sent; rechecked half a second on
        server.items[401] = {"id": 401, "deleted": True, "type": "comment", "time": 1_780_000_000}
        await rounds(settings, redis, names, server, recheck_s=0.5)
        assert await redis.xlen(names.stream) == 2, "not due yet"
        await asyncio.sleep(0.6)
        await rounds(settings, redis, names, server, recheck_s=0.5)
    sent = await on_stream(redis, names)
    assert [(type(m).__name__, m.post_id) for m in sent] == [
        ("PostMessage", "hn:401"),
        ("PostMessage", "hn:402"),
        ("DeleteMessage", "hn:401"),
    ]
    assert await redis.zcard(names.prefix + "ingest_recheck:hackernews") == 0, "each item is rechecked once"
