"""The WebSocket /ws/sentiment behind a real uvicorn, with the real Redis pub/sub: connected, post and
alert events relayed as published, metrics_update, one subscription per process, a slow client dropped
without holding up a fast one, the API key, a subscription that goes silent or is cut (through a TCP proxy)
made again with a resync, and what is not an event dropped and counted."""

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import NamedTuple, Self
from urllib.parse import urlsplit

import httpx
import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from services.common.events import (
    AlertData,
    AlertEvent,
    PostData,
    PostEvent,
    ResyncEvent,
    encode_event,
    parse_event,
)
from services.common.labels import Emotion, Sentiment
from services.common.names import RedisNames
from services.common.settings import Settings
from tests.backend.conftest import NOW, add_posts, served


def post_event(i: int, padding: int = 0) -> str:
    data = PostData(
        post_id=f"live-{i}",
        content=f"post {i} " + "x" * padding,
        source="twitter",
        author="someone",
        created_at=NOW,
        sentiment_label=Sentiment.NEGATIVE,
        confidence_score=0.9,
        emotion=Emotion.ANGER,
        model_name="minilm-bundle@2",
        analyzed_at=NOW,
    )
    return encode_event(PostEvent(data=data))


class Proxy:
    """A TCP proxy on a free port in front of the Redis of ``url``, for the outages a real network has.
    ``freeze`` makes the connections open now half-open: neither way forwards anything more and both sockets
    stay open, as after a Redis failover or when a NAT forgets a connection; ``cut`` closes them. A
    connection made afterwards goes through as before."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self._url = parts
        self._links: list[tuple[list[asyncio.StreamWriter], list[asyncio.Task[None]]]] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        await self.cut()

    @property
    def url(self) -> str:
        """``url`` through the proxy: its credentials and database, the proxy's address."""
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        userinfo = self._url.netloc.rpartition("@")[0]
        return self._url._replace(
            netloc=f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}"
        ).geturl()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        pipes = [
            asyncio.create_task(_pipe(client_reader, upstream_writer)),
            asyncio.create_task(_pipe(upstream_reader, client_writer)),
        ]
        self._links.append(([client_writer, upstream_writer], pipes))

    def freeze(self) -> None:
        """Nothing more forwarded either way on the connections open now; their sockets left open."""
        for _, pipes in self._links:
            for pipe in pipes:
                pipe.cancel()

    async def cut(self) -> None:
        """The connections open now closed, both sides."""
        links, self._links = self._links, []
        for writers, pipes in links:
            for pipe in pipes:
                pipe.cancel()
            for writer in writers:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


CHECK_S = 0.5  # WS_SUBSCRIPTION_CHECK_S in the tests of a lost subscription: silent this long, a PING


class Served(NamedTuple):
    proxy: Proxy
    address: str
    client: ClientConnection


@contextlib.asynccontextmanager
async def behind_proxy(settings: Settings, redis: aioredis.Redis, names: RedisNames) -> AsyncIterator[Served]:
    """A backend whose Redis is reached through a Proxy, its checks every CHECK_S, one client subscribed."""
    async with Proxy(settings.redis_url) as proxy:
        update = {"redis_url": proxy.url, "ws_subscription_check_s": CHECK_S}
        async with served(settings.model_copy(update=update)) as address:
            client = await listen(address)
            await wait_subscribed(redis, names)
            yield Served(proxy, address, client)
            await client.close()


async def metrics_of(address: str) -> str:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"http://{address}/metrics")).text


@pytest.fixture
async def server(settings: Settings, redis: aioredis.Redis) -> AsyncIterator[str]:
    async with served(settings.model_copy(update={"ws_metrics_interval_s": 0.5})) as address:
        yield address


async def listen(address: str, query: str = "", **options: object) -> ClientConnection:
    socket = await connect(f"ws://{address}/ws/sentiment{query}", **options)  # type: ignore[arg-type]
    return socket


async def next_of(socket: ClientConnection, kind: str, within_s: float = 10) -> dict[str, object]:
    """The next message of type ``kind`` (skipping metrics_update unless that is the one wanted)."""
    async with asyncio.timeout(within_s):
        while True:
            message = json.loads(await socket.recv())
            if message["type"] == kind:
                return message  # type: ignore[no-any-return]


async def wait_subscribed(redis: aioredis.Redis, names: RedisNames, count: int = 1) -> None:
    async with asyncio.timeout(10):
        while (await redis.pubsub_numsub(names.channel))[0][1] < count:
            await asyncio.sleep(0.05)


async def test_connected_then_posts_and_alerts_as_published(
    server: str, redis: aioredis.Redis, names: RedisNames
) -> None:
    socket = await listen(server)
    first = parse_event(await socket.recv())
    assert first.type == "connected"
    await wait_subscribed(redis, names)
    alert = AlertEvent(
        data=AlertData(
            id=1,
            alert_type="high_negative_ratio",
            threshold_value=2.0,
            actual_value=3.5,
            window_start=NOW - timedelta(minutes=5),
            window_end=NOW,
            post_count=18,
            triggered_at=NOW,
            details={"counts": {"positive": 4, "negative": 14, "neutral": 0}},
        )
    )
    await redis.publish(names.channel, post_event(1))
    await redis.publish(names.channel, encode_event(alert))
    assert json.dumps(await next_of(socket, "post")) == json.dumps(json.loads(post_event(1)))
    assert parse_event(json.dumps(await next_of(socket, "alert"))) == alert
    await socket.close()


async def test_metrics_update_counts_the_last_minute_hour_and_day(server: str, session: AsyncSession) -> None:
    from services.common.timestamps import utcnow

    now = utcnow()
    await add_posts(session, [(Sentiment.POSITIVE, now - timedelta(seconds=5))] * 2, prefix="m")
    await add_posts(session, [(Sentiment.NEGATIVE, now - timedelta(minutes=30))] * 3, prefix="h")
    await add_posts(session, [(Sentiment.NEUTRAL, now - timedelta(hours=5))], prefix="d")
    socket = await listen(server)
    update = await next_of(socket, "metrics_update")
    assert update["data"] == {
        "last_minute": {"positive": 2, "negative": 0, "neutral": 0, "total": 2},
        "last_hour": {"positive": 2, "negative": 3, "neutral": 0, "total": 5},
        "last_24_hours": {"positive": 2, "negative": 3, "neutral": 1, "total": 6},
    }
    await socket.close()


async def test_one_subscription_per_process_and_any_replica_serves_any_client(
    settings: Settings, server: str, redis: aioredis.Redis, names: RedisNames
) -> None:
    async with served(settings) as other:
        sockets = [await listen(server) for _ in range(3)] + [await listen(other) for _ in range(2)]
        await wait_subscribed(redis, names, 2)
        assert (await redis.pubsub_numsub(names.channel))[0][1] == 2  # two processes, five clients
        await redis.publish(names.channel, post_event(7))
        for socket in sockets:
            assert (await next_of(socket, "post"))["data"]["post_id"] == "live-7"  # type: ignore[index]
            await socket.close()


async def test_a_slow_client_is_dropped_and_a_fast_one_gets_everything(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    async with served(settings.model_copy(update={"ws_client_queue": 200})) as address:
        # The slow client reads nothing (and keeps a small receive window): once the socket buffers between
        # fill, its queue does, and it is dropped.
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.connect(("127.0.0.1", int(address.rsplit(":", 1)[1])))
        # Uncompressed: these alike events deflate a hundredfold and would take long to fill anything.
        slow = await listen(address, max_queue=1, sock=raw, compression=None)
        fast = await listen(address)
        await next_of(fast, "connected")
        await wait_subscribed(redis, names)
        received: list[str] = []

        async def receive() -> None:
            while True:
                message = json.loads(await fast.recv())
                if message["type"] == "post":
                    received.append(message["data"]["post_id"])

        async def dropped() -> bool:
            async with httpx.AsyncClient() as client:
                metrics = (await client.get(f"http://{address}/metrics")).text
            return "websocket_clients_dropped_total 1.0" in metrics

        receiving = asyncio.create_task(receive())
        sent = 0
        while not await dropped():  # about 10,000 events a second, in bursts of 100, until the slow one goes
            assert sent < 50_000, "the slow client was never dropped"
            for _ in range(10):
                pipe = redis.pipeline(transaction=False)
                for i in range(sent, sent + 100):
                    pipe.publish(names.channel, post_event(i, padding=150))
                await pipe.execute()
                sent += 100
                await asyncio.sleep(0.01)
        async with asyncio.timeout(30):
            while len(received) < sent:
                await asyncio.sleep(0.05)
        receiving.cancel()
        assert received == [f"live-{i}" for i in range(sent)]
        read: list[object] = []

        async def drain() -> None:
            async with asyncio.timeout(30):
                while True:
                    read.append(await slow.recv())

        with pytest.raises(ConnectionClosed) as closed:
            await drain()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1013
        assert len(read) < sent
        await fast.close()


async def test_with_an_api_key_reads_and_the_websocket_need_it_never_in_a_url(settings: Settings) -> None:
    key = "k-0123456789"
    async with served(settings.model_copy(update={"api_key": SecretStr(key)})) as address:
        async with httpx.AsyncClient(base_url=f"http://{address}") as client:
            assert (await client.get("/api/posts")).status_code == 401
            assert (await client.get("/api/posts", headers={"X-API-Key": "wrong"})).status_code == 401
            assert (await client.get("/api/posts", headers={"X-API-Key": key})).status_code == 200
            in_url = await client.get(f"/api/sentiment/distribution?api_key={key}")
            assert in_url.status_code == 401  # a key in a URL ends in logs and histories: not read
            assert "X-API-Key header" in in_url.json()["detail"]
            assert (await client.get("/api/health")).status_code in (200, 503)  # open: for probes
            assert (await client.post("/api/live/ticket")).status_code == 401
            tickets = [
                (await client.post("/api/live/ticket", headers={"X-API-Key": key})).json()["ticket"]
                for _ in range(2)
            ]
        for query in ("", f"?api_key={key}", "?ticket=made-up-ticket-0123456789"):
            with pytest.raises(InvalidStatus) as refused:  # the handshake is refused
                await listen(address, query)
            assert refused.value.response.status_code == 403, query
        allowed = await listen(address, f"?ticket={tickets[0]}")
        assert parse_event(await allowed.recv()).type == "connected"
        await allowed.close()
        with pytest.raises(InvalidStatus) as refused:  # single-use
            await listen(address, f"?ticket={tickets[0]}")
        assert b"used or expired" in refused.value.response.body
        by_header = await listen(address, additional_headers={"X-API-Key": key})  # a script
        assert parse_event(await by_header.recv()).type == "connected"
        await by_header.close()
        # A ticket is kept in Redis: another replica (here, another app on the same Redis) takes it.
        async with served(settings.model_copy(update={"api_key": SecretStr(key)})) as other:
            replica = await listen(other, f"?ticket={tickets[1]}")
            assert parse_event(await replica.recv()).type == "connected"
            await replica.close()


async def test_a_half_open_subscription_is_made_again_and_the_clients_told_to_reload(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    async with behind_proxy(settings, redis, names) as (proxy, address, client):
        await redis.publish(names.channel, post_event(1))
        assert (await next_of(client, "post"))["data"]["post_id"] == "live-1"  # type: ignore[index]

        proxy.freeze()  # Redis still counts the subscription, and never hears that it is gone
        for i in (2, 3):
            await redis.publish(names.channel, post_event(i))  # lost, in the frozen connection
        # Silent CHECK_S, then a PING unanswered for CHECK_S, then a new subscription (0.1 s backoff).
        resync = parse_event(json.dumps(await next_of(client, "resync", within_s=8 * CHECK_S)))
        assert isinstance(resync, ResyncEvent)
        assert "went silent" in resync.reason

        await wait_subscribed(redis, names, 2)  # the frozen one and the new one
        await redis.publish(names.channel, post_event(4))
        assert (await next_of(client, "post"))["data"]["post_id"] == "live-4"  # type: ignore[index]
        metrics = await metrics_of(address)
        assert "websocket_resyncs_total 1.0" in metrics
        assert 'websocket_events_relayed_total{type="resync"} 1.0' in metrics


async def test_a_quiet_subscription_answers_its_pings_and_is_kept(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    async with served(settings.model_copy(update={"ws_subscription_check_s": CHECK_S})) as address:
        client = await listen(address)
        await wait_subscribed(redis, names)
        with pytest.raises(TimeoutError):  # several pings answered meanwhile: nothing to tell the clients
            await next_of(client, "resync", within_s=6 * CHECK_S)
        await redis.publish(names.channel, post_event(1))
        assert (await next_of(client, "post"))["data"]["post_id"] == "live-1"  # type: ignore[index]
        assert "websocket_resyncs_total 0.0" in await metrics_of(address)
        await client.close()


async def test_a_cut_subscription_is_made_again_and_the_clients_told_to_reload(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    async with behind_proxy(settings, redis, names) as (proxy, _, client):
        await proxy.cut()
        resync = parse_event(json.dumps(await next_of(client, "resync")))
        assert isinstance(resync, ResyncEvent)
        assert "was lost" in resync.reason

        async def published_until_received() -> str:
            for i in range(100, 200):
                await redis.publish(names.channel, post_event(i))
                with contextlib.suppress(TimeoutError):
                    return str((await next_of(client, "post", within_s=0.2))["data"]["post_id"])  # type: ignore[index]
            raise AssertionError("no post after the resync")

        assert (await published_until_received()).startswith("live-1")


async def test_what_is_not_an_event_is_dropped_and_counted_and_an_unknown_field_ignored(
    settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    async with served(settings) as address:
        client = await listen(address)
        await next_of(client, "connected")
        await wait_subscribed(redis, names)
        post = json.loads(post_event(1))
        bad = [
            ("invalid_json", "not json {"),
            ("invalid_json", "[1, 2]"),
            ("unknown_type", json.dumps({"type": "gossip", "data": {}})),
            ("unknown_type", json.dumps({"data": post["data"]})),
            (
                "invalid_fields",
                json.dumps({"type": "post", "data": {**post["data"], "confidence_score": "high"}}),
            ),
            ("invalid_fields", json.dumps({"type": "alert", "data": {"id": "seven"}})),
        ]
        for _, text in bad:
            await redis.publish(names.channel, text)
        # A replica of a newer version: a field more in the event and in its data.
        newer = {**post, "origin": "worker-9", "data": {**post["data"], "language": "en"}}
        await redis.publish(names.channel, json.dumps(newer))

        async with asyncio.timeout(10):
            while (message := json.loads(await client.recv()))["type"] == "metrics_update":
                pass
        assert message == post  # the first thing relayed, re-encoded: the unknown fields left out
        metrics = await metrics_of(address)
        for reason in ("invalid_json", "unknown_type", "invalid_fields"):
            assert f'websocket_events_dropped_total{{reason="{reason}"}} 2.0' in metrics
        assert 'websocket_events_relayed_total{type="post"} 1.0' in metrics
        await client.close()


async def test_a_client_subscribed_to_topics_gets_their_posts_and_every_other_event(
    server: str, redis: aioredis.Redis, names: RedisNames, session: AsyncSession
) -> None:
    """``?topic=`` narrows the posts to those topics' (each post event names its topics); an unknown topic
    is refused at the handshake (404), an id that is no id too (422)."""
    ids = [
        await session.scalar(
            text("INSERT INTO topics (name, query) VALUES (:n, 'cats') RETURNING id"), {"n": n}
        )
        for n in ("a", "b")
    ]
    await session.commit()
    narrowed = await listen(server, f"?topic={ids[0]}")
    everything = await listen(server)
    await wait_subscribed(redis, names)

    def tagged(i: int, topics: list[int]) -> str:
        event = parse_event(post_event(i))
        assert isinstance(event, PostEvent)
        return encode_event(PostEvent(data=event.data.model_copy(update={"topics": topics})))

    for i, topics in enumerate([[], [ids[1]], [ids[0], ids[1]], [ids[0]]]):
        await redis.publish(names.channel, tagged(i, topics))
    await redis.publish(names.channel, encode_event(ResyncEvent(reason="a test", timestamp=NOW)))
    got = [(await next_of(narrowed, "post"))["data"] for _ in range(2)]
    assert [(d["post_id"], d["topics"]) for d in got] == [("live-2", ids), ("live-3", [ids[0]])]  # type: ignore[index]
    assert (await next_of(narrowed, "resync"))["type"] == "resync"
    assert [(await next_of(everything, "post"))["data"]["post_id"] for _ in range(4)] == [  # type: ignore[index]
        f"live-{i}" for i in range(4)
    ]
    await narrowed.close()
    await everything.close()

    for query, status in ((f"?topic={ids[1] + 1}", 404), ("?topic=x", 422), ("?topic=0", 422)):
        with pytest.raises(InvalidStatus) as refused:
            await listen(server, query)
        assert refused.value.response.status_code == status, query
