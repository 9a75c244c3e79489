"""The Mastodon source against a local instance (tests/fakes/mastodon.py) and the real Redis: statuses
become posts (one per uri, a boost its original), pages follow min_id, a first start reads from now on, and a
401 or a rate limit is reported, not hammered."""

import asyncio

import httpx
import redis.asyncio as aioredis

from services.common.names import RedisNames
from services.common.settings import Settings
from services.ingester.mastodon import Mastodon
from tests.fakes.mastodon import FakeMastodon, status
from tests.ingester.streams import outlet_for, posts_on_stream


async def rounds(
    settings: Settings,
    redis: aioredis.Redis,
    names: RedisNames,
    *urls: str,
    n: int = 1,
    tags: list[str] | None = None,
) -> Mastodon:
    settings = settings.model_copy(update={"mastodon_instances": list(urls), "mastodon_tags": tags or []})
    outlet = outlet_for("mastodon", settings, redis, names)
    producer = outlet.producer
    async with httpx.AsyncClient() as client:
        source = Mastodon(settings, producer, outlet, asyncio.Event(), client)
        for timeline in source.timelines:
            timeline.cursor = await producer.writer.cursor(timeline.key)
        for _ in range(n):
            await source.round()
    return source


async def test_statuses_become_posts_page_by_page_from_the_cursor(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    statuses = [
        status(n, f"<p>Post number {n} about the <a href='x'>#release</a>, I love it</p>")
        for n in range(1, 91)
    ]
    statuses[4]["spoiler_text"] = "spoilers"
    with FakeMastodon(statuses) as server:
        key = f"mastodon:{server.url}/timelines/public"
        await redis.hset(names.ingest_cursors, key, statuses[0]["id"])  # read up to post 1 before
        source = await rounds(settings, redis, names, server.url)
    sent = await posts_on_stream(redis, names)
    assert [p.post_id for p in sent] == [s["uri"] for s in statuses[1:]], "oldest first, none missing"
    assert [q.get("min_id") for q in server.asked] == [
        statuses[0]["id"],
        statuses[40]["id"],
        statuses[80]["id"],
    ]
    first = sent[0]
    assert first.content == "Post number 2 about the #release, I love it"
    assert (first.author, first.lang, first.url) == (
        "ann@mastodon.social",
        "en",
        "https://mastodon.social/@ann/2",
    )
    assert sent[3].content.startswith("spoilers\n\nPost number 5")
    assert await redis.hget(names.ingest_cursors, key) == statuses[-1]["id"].encode()
    assert source.outlet.counts["posts"] == 89


async def test_a_status_seen_twice_or_boosted_is_one_post(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    original = status(1, "<p>The original, with its HTML</p>", instance="example.social")
    boost = status(2, "", reblog=original)
    seen_elsewhere = {
        **original,
        "id": status(3, "")["id"],
        "content": "<p>The original, <b>with its HTML</b></p>",
    }
    with FakeMastodon([original, boost, seen_elsewhere]) as server:
        await redis.hset(names.ingest_cursors, f"mastodon:{server.url}/timelines/public", "0")
        await rounds(settings, redis, names, server.url)
    assert {p.post_id for p in await posts_on_stream(redis, names)} == {original["uri"]}, (
        "the worker keeps the first"
    )


async def test_a_first_start_reads_from_now_on_and_a_hashtag_reads_its_own_timeline(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    old = status(1, "<p>old news on the release</p>", tags_=["release"])
    with FakeMastodon([old]) as server:
        await rounds(settings, redis, names, server.url, tags=["#release"])
        assert await posts_on_stream(redis, names) == []
        server.statuses.append(
            status(2, "<p>new news on the release, so happy about it</p>", tags_=["release"])
        )
        server.statuses.append(status(3, "<p>something else entirely, nothing to do with it</p>"))
        await rounds(settings, redis, names, server.url, tags=["#release"])
    assert [p.post_id for p in await posts_on_stream(redis, names)] == [server.statuses[1]["uri"]]
    assert {q["tag"] for q in server.asked} == {"release"}


async def test_a_401_or_a_rate_limit_is_reported_and_not_asked_again_at_once(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    with (
        FakeMastodon([status(1, "<p>hello there</p>")]) as closed,
        FakeMastodon([status(1, "<p>hi</p>")]) as busy,
    ):
        closed.status_code = 401
        busy.status_code = 429
        source = await rounds(settings, redis, names, closed.url, busy.url, n=2)
    assert len(closed.asked) == 1, "a 401 is not retried until the source restarts"
    assert len(busy.asked) == 1, "a 429 waits for its Retry-After"
    assert "401" in source.detail()
    assert "429" in source.detail()
