"""The rules every live source follows (services/ingester/live.py Outlet), on what a source might say."""

from datetime import timedelta

import redis.asyncio as aioredis

from services.common.messages import PostMessage
from services.common.names import RedisNames
from services.common.timestamps import utcnow
from services.ingester.language import Languages
from services.ingester.live import Outlet, SourceMetrics, post_id, text_of_html
from services.ingester.producer import Producer

TEXT = "The new release fixed the bug I reported last week, thank you all"


def outlet(redis: aioredis.Redis, names: RedisNames) -> Outlet:
    return Outlet("bluesky", Producer(redis, names, 1000), Languages(["en"]), SourceMetrics(), 30)


def queued(source: Outlet) -> list[PostMessage]:
    return [m for m in source.producer._queue if isinstance(m, PostMessage)]


def test_an_id_over_128_characters_is_hashed_the_same_way_every_time() -> None:
    long = "at://did:web:" + "x" * 200 + "/app.bsky.feed.post/3k"
    assert post_id(long) == post_id(long)
    assert post_id(long).startswith("sha256:")
    assert len(post_id(long)) == 71
    assert post_id("hn:1") == "hn:1"


def test_a_time_in_the_future_or_before_the_days_kept_becomes_the_arrival_time(
    redis: aioredis.Redis, names: RedisNames
) -> None:
    source = outlet(redis, names)
    now = utcnow()
    for when in (now + timedelta(days=2), now - timedelta(days=31), None):
        source.post("p", TEXT, "someone", when, None)
    assert all(abs((p.created_at - now).total_seconds()) < 5 for p in queued(source))
    source.post("p", TEXT, "someone", now - timedelta(hours=3), None)
    assert queued(source)[-1].created_at == now - timedelta(hours=3), "a plausible time is kept"


def test_a_link_that_is_not_http_or_too_long_is_dropped_and_the_post_kept(
    redis: aioredis.Redis, names: RedisNames
) -> None:
    source = outlet(redis, names)
    for link in ("javascript:alert(1)", "https://example.org/" + "a" * 3000, "ftp://example.org/x", ""):
        assert source.post("p", TEXT, "someone", None, link)
    assert [p.url for p in queued(source)] == [None] * 4
    assert source.post("p", TEXT, "someone", None, "https://bsky.app/profile/did:plc:x/post/1")
    assert queued(source)[-1].url == "https://bsky.app/profile/did:plc:x/post/1"


def test_no_text_is_skipped_and_too_much_is_cut(redis: aioredis.Redis, names: RedisNames) -> None:
    source = outlet(redis, names)
    assert not source.post("p", "   ", "someone", None, None)
    assert source.post("p", TEXT + " " + "and more words. " * 1000, "", None, None)
    [kept] = queued(source)
    assert len(kept.content) == 10_000
    assert kept.author == "unknown"
    assert source.skips == {"no text": 1}


def test_html_becomes_the_text_a_reader_sees() -> None:
    assert text_of_html("First <a href='x'>link</a> &#x27;quoted&#x27;<p>Second <i>para</i><br>line") == (
        "First link 'quoted'\n\nSecond para\nline"
    )
    assert text_of_html("<img src='x'>") == ""
