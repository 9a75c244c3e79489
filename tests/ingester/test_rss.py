"""The RSS and Atom source against a local feed server (tests/fakes/feeds.py) and the real Redis: entries
become posts by the documented rules, a feed is asked for with its validators, an entry is sent once, and a
failing feed leaves the others alone."""

import asyncio
import hashlib
from datetime import timedelta

import httpx
import redis.asyncio as aioredis

from services.common.messages import CONTENT_MAX_CHARS
from services.common.names import RedisNames
from services.common.settings import Settings
from services.common.timestamps import utcnow
from services.ingester.rss import Feeds
from tests.fakes.feeds import FakeFeeds, atom, item, rss
from tests.ingester.streams import outlet_for, posts_on_stream


async def one_round(settings: Settings, redis: aioredis.Redis, names: RedisNames, *urls: str) -> Feeds:
    """Every feed polled once, as a round of the source does."""
    settings = settings.model_copy(update={"rss_feeds": list(urls)})
    outlet = outlet_for("rss", settings, redis, names)
    producer = outlet.producer
    async with httpx.AsyncClient() as client:
        feeds = Feeds(settings, producer, outlet, asyncio.Event(), client)
        for url in urls:
            await feeds.poll_safely(url)
    return feeds


async def test_entries_become_posts_by_the_rules_every_source_follows(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    long_body = "<p>" + "All of it, every word of the article. " * 400 + "</p>"
    entries = item(1, "Markets rally on good news", "<p>Stocks <b>rose</b> today.</p>")
    entries += item(2, "An undated entry without an author", "Plain text.", date=False, author=False)
    entries += item(3, "The long read", long_body)
    with FakeFeeds({"news.xml": rss(entries)}) as server:
        url = server.url("news.xml")
        before = utcnow()
        await one_round(settings, redis, names, url)
    first, second, third = await posts_on_stream(redis, names)
    assert first.post_id == "rss:" + hashlib.sha256(f"{url}\nurn:example:1".encode()).hexdigest()
    assert first.content == "Markets rally on good news\n\nStocks rose today."
    assert (first.author, first.lang, first.url, first.source) == (
        "ann@example.org (Ann)",
        "en",
        "https://example.org/1",
        "rss",
    )
    assert first.created_at.isoformat().startswith("2026-12-01T10:00:00")
    assert second.author == "Example news", "no author: the feed's title"
    assert second.created_at >= before - timedelta(seconds=1), "no date: the fetch time"
    assert len(third.content) == CONTENT_MAX_CHARS, "a full-text entry is cut, not skipped"


async def test_a_feed_is_asked_for_with_its_etag_and_each_entry_is_sent_once(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    with FakeFeeds({"news.xml": rss(item(1, "One") + item(2, "Two"))}) as server:
        url = server.url("news.xml")
        await one_round(settings, redis, names, url)
        await one_round(settings, redis, names, url)  # unchanged: a 304
        server.feeds["news.xml"] = rss(item(3, "Three") + item(1, "One") + item(2, "Two"))
        await one_round(settings, redis, names, url)
    assert [p.content for p in await posts_on_stream(redis, names)] == ["One", "Two", "Three"]
    first, second, third = server.asked
    assert first[1] is None
    assert second[1] is not None, "the second request carries the ETag of the first answer"
    assert third[1] == second[1]
    assert await redis.hget(names.ingest_cursors, f"rss:{url}") is not None


async def test_a_feed_in_a_language_not_analysed_is_skipped_and_counted(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    entry = (
        '<entry><title>Eintrag</title><id>urn:e1</id><link href="https://example.org/e1"/>'
        '<updated>2026-12-01T10:00:00Z</updated><content type="html">&lt;p&gt;Guten Tag, wie geht es '
        "Ihnen heute? Das Wetter ist schön.&lt;/p&gt;</content><author><name>Bob</name></author></entry>"
    )
    with FakeFeeds({"de.xml": atom(entry)}) as server:
        feeds = await one_round(settings, redis, names, server.url("de.xml"))
    assert await posts_on_stream(redis, names) == []
    assert feeds.outlet.skips == {"language": 1}


async def test_a_failing_feed_is_reported_and_leaves_the_others_alone(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    with FakeFeeds({"good.xml": rss(item(1, "Still here")), "junk.xml": "this is no feed"}) as server:
        server.status["busy.xml"] = (429, {"Retry-After": "120"})
        server.status["down.xml"] = (500, {})
        urls = [server.url(p) for p in ("busy.xml", "down.xml", "junk.xml", "good.xml")]
        feeds = await one_round(settings, redis, names, *urls)
        await feeds.poll_safely(urls[0])  # asked to wait: not asked again yet
    assert [p.content for p in await posts_on_stream(redis, names)] == ["Still here"]
    assert set(feeds.failing) == {urls[0], urls[1]}
    assert "429" in feeds.failing[urls[0]]
    assert [path for path, _ in server.asked].count("busy.xml") == 1
    assert feeds.outlet.skips == {"malformed": 1}, "a page that is no feed is counted, and skipped"
