"""The Mastodon source against a local instance (tests/fakes/mastodon.py) and the real Redis: statuses
become posts (one per uri, a boost its original), pages follow min_id, a first start reads from now on, and a
401 or a rate limit is reported, not hammered. With a token, the streaming API: updates and deletes, a drop
or a restart caught up by REST, a refused token polled instead."""

import asyncio
from collections.abc import Callable

import httpx
import redis.asyncio as aioredis
from pydantic import SecretStr

from services.common.messages import DeleteMessage, PostMessage
from services.common.names import RedisNames
from services.common.settings import Settings
from services.common.timestamps import utcnow
from services.ingester.mastodon import Mastodon
from tests.fakes.mastodon import FakeMastodon, frame, status
from tests.ingester.streams import on_stream, outlet_for, posts_on_stream


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


# --- streamed ----------------------------------------------------------------------------------------------


async def streamed(
    settings: Settings,
    redis: aioredis.Redis,
    names: RedisNames,
    server: FakeMastodon,
    until: Callable[[Mastodon], bool],
    token: str = "t0ken",  # noqa: S107 - the fake instance's
    tags: list[str] | None = None,
) -> Mastodon:
    """The source as its sub-command runs it, streaming from ``server`` until ``until(source)``, then
    stopped."""
    settings = settings.model_copy(
        update={
            "mastodon_instances": [server.url],
            "mastodon_tags": tags or [],
            "mastodon_token": SecretStr(token),
            "mastodon_poll_s": 0.2,
        }
    )
    outlet = outlet_for("mastodon", settings, redis, names)
    stop = asyncio.Event()
    async with httpx.AsyncClient() as client:
        source = Mastodon(settings, outlet.producer, outlet, stop, client)
        running = asyncio.create_task(source.run())
        try:
            async with asyncio.timeout(20):
                while not until(source):
                    await asyncio.sleep(0.05)
        finally:
            stop.set()
            await running
    return source


async def test_a_token_streams_posts_and_honours_deletes(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    first = status(1, "<p>I love the new release, it works</p>")
    second = status(2, "<p>The launch was today, <b>so happy</b></p>")
    original = status(3, "<p>Boosted from elsewhere, a great read</p>", instance="example.social")
    boost = status(4, "", reblog=original)
    live: list[dict[str, object] | str] = [
        frame("update", first),
        frame("update", second),
        frame("status.update", {**first, "content": "<p>edited</p>"}),
        frame("delete", first["id"]),
        frame("delete", "999"),  # a status never sent here
        "not JSON {",
        frame("notification", {"id": "1"}),
        {"error": "Unknown stream type", "status": 400},
        frame("update", boost),
        frame("delete", boost["id"]),  # an unboost: the original stays
        frame("update", status(5, "<p>Please leave me out</p>", account={"acct": "zoe", "noindex": True})),
    ]
    with FakeMastodon([], token="t0ken", live=live) as server:
        source = await streamed(settings, redis, names, server, lambda s: s.outlet.counts["events"] >= 11)
    messages = await on_stream(redis, names)
    assert [m.post_id for m in messages if isinstance(m, PostMessage)] == [
        first["uri"],
        second["uri"],
        original["uri"],
    ]
    assert [m.post_id for m in messages if isinstance(m, DeleteMessage)] == [first["uri"]]
    assert dict(source.outlet.skips) == {
        "update": 1,
        "delete of a status not sent": 2,
        "malformed": 1,
        "other event": 1,
        "error": 1,
        "opted out": 1,
    }
    assert server.subscribed == [[{"type": "subscribe", "stream": "public"}]]
    assert set(server.authorizations) == {"Bearer t0ken"}, "the catch-up asks with the token"
    key = f"mastodon:{server.url}/timelines/public"
    assert await redis.hget(names.ingest_cursors, key) == status(5, "")["id"].encode()
    remembered = names.mastodon_ids(utcnow().date().isoformat())
    assert await redis.hget(remembered, f"{server.url} {second['id']}") == second["uri"].encode()
    assert 7 * 86400 < await redis.ttl(remembered) <= 8 * 86400


async def test_a_drop_and_a_restart_are_caught_up_and_a_delete_outlives_the_restart(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    statuses = [
        status(n, f"<p>News number {n} on the #release, I like it</p>", tags_=["release"])
        for n in range(1, 31)
    ]
    live = [frame("update", s, ["hashtag", "release"]) for s in statuses]
    everyone = [s["uri"] for s in statuses]
    with FakeMastodon([], token="t0ken", live=live, drops=[10], lost=5) as server:

        def sent(source: Mastodon) -> int:
            return source.outlet.counts["posts"]

        await streamed(settings, redis, names, server, lambda s: sent(s) >= 20, tags=["Release"])
        server.live.append(frame("delete", statuses[2]["id"], ["hashtag", "release"]))
        restarted = await streamed(
            settings, redis, names, server, lambda s: s.outlet.counts["deletes"] >= 1, tags=["Release"]
        )
    messages = await on_stream(redis, names)
    posts = [m.post_id for m in messages if isinstance(m, PostMessage)]
    assert set(posts) == set(everyone), "the drop's lost frames and the restart's gap come by REST"
    assert len(posts) - len(set(posts)) <= 20, "some twice (the worker keeps the first), none missing"
    assert [m.post_id for m in messages if isinstance(m, DeleteMessage)] == [statuses[2]["uri"]]
    assert len(server.subscribed) >= 3
    assert all(s == [{"type": "subscribe", "stream": "hashtag", "tag": "Release"}] for s in server.subscribed)
    assert restarted.outlet.counts["reconnects"] == 0


async def test_a_refused_token_is_reported_and_the_timelines_polled(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    statuses = [status(1, "<p>first of all, good news</p>"), status(2, "<p>and then more good news</p>")]
    with FakeMastodon(statuses, token="the right one") as server:
        await redis.hset(names.ingest_cursors, f"mastodon:{server.url}/timelines/public", "0")
        source = await streamed(
            settings, redis, names, server, lambda s: s.outlet.counts["posts"] >= 2, token="wrong"
        )
    assert [p.post_id for p in await posts_on_stream(redis, names)] == [s["uri"] for s in statuses]
    assert "401: the streaming API refused MASTODON_TOKEN" in source.detail()
    assert set(server.authorizations) == {""}, "the refused token is not sent again"
    assert server.subscribed == []
