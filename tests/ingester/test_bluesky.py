"""The Bluesky source against a local Jetstream (tests/fakes/jetstream.py) and the real Redis: what each kind
of frame becomes, the cursor written with the posts, reconnects and failover, a cursor past the server's
window, the backlog limit, and a connector killed mid-stream."""

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from services.common.messages import DeleteMessage, PostMessage
from services.common.names import RedisNames
from services.common.settings import Settings
from services.common.sources import SourceStatus
from services.ingester import bluesky
from services.ingester.bluesky import Jetstream
from tests.fakes.jetstream import DID, T0_US, FakeJetstream, Frame, create, delete, uri
from tests.ingester.streams import on_stream, outlet_for
from tests.support import free_port


def connector(
    settings: Settings, redis: aioredis.Redis, names: RedisNames, *urls: str, **over: object
) -> Jetstream:
    settings = settings.model_copy(
        update={"bluesky_jetstream_urls": list(urls), "bluesky_rewind_s": 0.005, **over}
    )
    outlet = outlet_for("bluesky", settings, redis, names)
    producer = outlet.producer
    return Jetstream(settings, producer, outlet, asyncio.Event())


async def until(check: Callable[[], object], what: str, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def running(jetstream: Jetstream, until_done: Callable[[], object], what: str) -> None:
    """Run the connector (reporting its state, as the sub-command does) until ``until_done``, then stop it."""

    async def run() -> None:
        async with jetstream.outlet.serving(0, jetstream.stop):
            await jetstream.run()

    task = asyncio.create_task(run())
    try:
        await until(until_done, what)
    finally:
        jetstream.stop.set()
        await asyncio.wait_for(task, 5)


async def test_each_kind_of_frame_becomes_a_post_a_delete_or_a_counted_skip(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    long_text = ("I love this café ☕ and its staff. " * 100)[:2990]  # about 3,000 bytes, a record's most
    frames: list[Frame] = [
        create(1, langs=["en"]),
        create(2, "The weather today is lovely and I am going for a walk in the park"),  # declares none
        create(3, "今日はとても疲れました。明日は休みたいです。", ["ja"]),  # not a language analysed
        create(4, ""),  # an image-only post
        create(5, long_text),
        {**create(6), "commit": {**create(6)["commit"], "operation": "update"}},
        {**create(7), "commit": {**create(7)["commit"], "collection": "app.bsky.feed.like"}},
        {
            "did": DID,
            "time_us": T0_US + 8000,
            "kind": "identity",
            "identity": {"did": DID, "handle": "a.b", "seq": 1},
        },
        {
            "did": DID,
            "time_us": T0_US + 9000,
            "kind": "account",
            "account": {"active": True, "did": DID, "seq": 2},
        },
        "{not json",
        {**create(10), "cursor": 123456},  # a newer server's instance-local sequence
        create(1, langs=["en"]),  # redelivered
        delete(2, T0_US + 11_000),
        {"did": DID, "kind": "commit"},  # no time_us
        {
            "did": DID,
            "time_us": T0_US + 12_000,
            "kind": "commit",
            "commit": {"operation": "create", "collection": "app.bsky.feed.post"},
        },
    ]
    with FakeJetstream(frames) as server:
        jetstream = connector(settings, redis, names, server.url)
        await running(jetstream, lambda: jetstream.outlet.counts["events"] == len(frames), "every frame")
    messages = await on_stream(redis, names)
    posts = [m for m in messages if isinstance(m, PostMessage)]
    deletes = [m for m in messages if isinstance(m, DeleteMessage)]
    assert [p.post_id for p in posts] == [uri(1), uri(2), uri(5), uri(10), uri(1)], "the worker drops the 2nd"
    first = posts[0]
    assert (first.source, first.author, first.lang) == ("bluesky", DID, "en")
    assert first.url == f"https://bsky.app/profile/{DID}/post/3lplngryz0001"
    assert posts[1].lang == "en", "identified, where none was declared"
    assert posts[2].content == long_text.strip()
    assert [d.post_id for d in deletes] == [uri(2)]
    skipped = jetstream.outlet.skips
    assert skipped == {
        "language": 1,
        "no text": 1,
        "update": 1,
        "other collection": 1,
        "identity": 1,
        "account": 1,
        "malformed": 3,
    }
    assert jetstream.outlet.metrics.languages.labels("bluesky", "ja")._value.get() == 1
    assert await redis.hget(names.ingest_cursors, "bluesky") == str(T0_US + 12_000).encode()
    status = SourceStatus.model_validate_json(await redis.hget(names.source_status, "bluesky") or b"")
    assert status.state == "stopped"
    assert status.posts == 5
    assert status.deletes == 1


async def test_a_dropped_connection_resumes_from_the_cursor_rewound(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    frames = [create(n, langs=["en"]) for n in range(1, 41)]
    with FakeJetstream(frames, drops=[15]) as server:
        jetstream = connector(settings, redis, names, server.url)
        await running(jetstream, lambda: distinct(redis, names, 40), "every post after the drop")
    first, resumed = server.cursors()
    assert first is None, "the first connection took the live tail"
    # After events, the same instance again, from the last time_us handled less the rewind (5 ms here).
    assert resumed == T0_US + 15_000 - 5_000
    assert jetstream.outlet.counts["reconnects"] == 1


async def distinct(redis: aioredis.Redis, names: RedisNames, n: int) -> bool:
    """Whether the stream holds ``n`` distinct post_ids (of posts and deletes)."""
    return len({m.post_id for m in await on_stream(redis, names)}) == n


async def _at_least(count: Callable[[], Awaitable[int]], n: int) -> bool:
    return await count() >= n


async def test_an_instance_that_refuses_is_left_for_the_next(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    frames = [create(n, langs=["en"]) for n in range(1, 6)]
    dead = f"ws://127.0.0.1:{free_port()}/subscribe"
    with FakeJetstream(frames) as server:
        jetstream = connector(settings, redis, names, dead, server.url)
        await running(jetstream, lambda: _at_least(lambda: redis.xlen(names.stream), 5), "the posts")
    assert jetstream.outlet.endpoint == server.url


async def test_a_cursor_older_than_the_servers_window_is_reported_as_missed_posts(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    frames = [create(n, langs=["en"]) for n in range(1, 6)]
    await redis.hset(names.ingest_cursors, "bluesky", str(T0_US - 3_600_000_000))  # an hour before
    with FakeJetstream(frames, oldest_us=T0_US) as server:
        jetstream = connector(settings, redis, names, server.url)
        await running(jetstream, lambda: _at_least(lambda: redis.xlen(names.stream), 5), "the posts")
    assert server.cursors()[0] == T0_US - 3_600_000_000 - 5_000
    assert jetstream.outlet.missed_s == pytest.approx(3600, abs=1)
    status = SourceStatus.model_validate_json(await redis.hget(names.source_status, "bluesky") or b"")
    assert status.missed_s == pytest.approx(3600, abs=1)
    assert "missed" in (status.warning() or "")


async def test_at_the_backlog_limit_it_disconnects_and_resumes_from_its_cursor(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    frames = [create(n, langs=["en"]) for n in range(1, 301)]
    with FakeJetstream(frames) as server:
        jetstream = connector(settings, redis, names, server.url, stream_max_backlog=100)
        jetstream.producer.writer.max_backlog = 100
        task = asyncio.create_task(jetstream.run())
        try:
            await until(lambda: jetstream.outlet.state == "waiting_for_backlog", "the connector to wait")
            assert await redis.xlen(names.stream) <= 100
            assert len(server.requests) == 1
            await redis.xtrim(names.stream, maxlen=0, approximate=False)  # the workers catch up
            await until(lambda: len(server.requests) >= 2, "a new connection")
        finally:
            jetstream.stop.set()
            await asyncio.wait_for(task, 5)
    assert server.cursors()[1] is not None, "the new connection resumes from the cursor"


def start(
    settings: Settings, url: str, log: Path, command: str = "bluesky", **more: str
) -> "subprocess.Popen[bytes]":
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url,
        "REDIS_KEY_PREFIX": settings.redis_key_prefix,
        "DATABASE_URL": settings.database_url,
        "BLUESKY_JETSTREAM_URLS": url,
        "BLUESKY_REWIND_S": "0.05",
        "INGEST_METRICS_PORT": "0",
        **more,
    }
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "services.ingester", command], env=env, stderr=out)


async def test_killed_mid_stream_and_started_again_every_post_arrives(
    settings: Settings, redis: aioredis.Redis, names: RedisNames, tmp_path: Path
) -> None:
    log = tmp_path / "ingester.log"
    frames = [create(n, langs=["en"]) for n in range(1, 1001)]
    with FakeJetstream(frames) as server:
        server.pace_s = 0.002
        first = start(settings, server.url, log)
        try:
            await until(lambda: _at_least(lambda: redis.xlen(names.stream), 200), "posts before the kill", 30)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        second = start(settings, server.url, log)
        try:
            await until(lambda: distinct(redis, names, 1000), "every post", 60)
            second.send_signal(signal.SIGTERM)
            assert second.wait(10) == 0, log.read_text()
        finally:
            if second.poll() is None:
                second.kill()
    assert server.cursors()[1] is not None
    ids = [m.post_id for m in await on_stream(redis, names)]
    assert set(ids) == {uri(n) for n in range(1, 1001)}, "none missing"
    assert len(ids) - len(set(ids)) < 200, "only the rewound seconds come twice (the worker drops them)"
    status = json.loads(await redis.hget(names.source_status, "bluesky") or b"{}")
    assert status["state"] == "stopped"


async def test_the_sources_command_runs_every_source_of_ingest_sources_in_one_process(
    settings: Settings, redis: aioredis.Redis, names: RedisNames, tmp_path: Path
) -> None:
    log = tmp_path / "ingester.log"
    with FakeJetstream([create(n, langs=["en"]) for n in range(1, 11)]) as server:
        both = start(
            settings, server.url, log, "sources", INGEST_SOURCES="synthetic,bluesky", INGEST_RATE="50"
        )

        async def both_arrived() -> bool:
            labels = [m.source for m in await on_stream(redis, names)]
            return labels.count("bluesky") == 10 and any(label.startswith("synthetic-") for label in labels)

        try:
            await until(both_arrived, "the posts of both sources", 30)
            both.send_signal(signal.SIGTERM)
            assert both.wait(10) == 0, log.read_text()
        finally:
            if both.poll() is None:
                both.kill()
    said = log.read_text()
    assert "bluesky: sent" in said
    assert "synthetic: sent" in said


def test_the_sub_command_is_registered() -> None:
    from services.ingester.__main__ import SOURCES

    assert SOURCES["bluesky"] is bluesky.SOURCE
