"""The live side of the API (docs/api.md): one Redis subscription per process, fanned out to every
WebSocket client through a bounded queue each; a client whose queue is full is dropped, so it never slows
the others. The subscription is pinged when it goes quiet and made again when it is lost or silent, and the
clients are then told to reload (``resync``); what comes on the channel is relayed only if it is an event."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions
from fastapi import WebSocket, WebSocketDisconnect
from prometheus_client import CollectorRegistry, Counter, Gauge
from pydantic import ValidationError
from redis.asyncio.client import PubSub
from starlette.websockets import WebSocketState

from services.common.events import (
    ConnectedEvent,
    MetricsUpdateEvent,
    MetricsWindows,
    PostEvent,
    ResyncEvent,
    SentimentCounts,
    encode_event,
    parse_event,
)
from services.common.redis import redis_down
from services.common.retry import waiting_out
from services.common.timestamps import utcnow

log = logging.getLogger("backend.live")
WINDOWS = {
    "last_minute": timedelta(minutes=1),
    "last_hour": timedelta(hours=1),
    "last_24_hours": timedelta(days=1),
}

Counts = Callable[[timedelta], Awaitable[dict[str, int]]]
PING = "live-hub-check"  # what the hub's PING carries and its pong echoes: known for what it is in MONITOR
# The largest frame a client may send (it has nothing to say: what it sends is read and ignored); the web
# server is told the same (services/backend/__main__.py), so a bigger one, compressed or not, is refused
# (1009) before it is inflated.
CLIENT_FRAME_MAX = 4096


class SilentSubscription(redis.exceptions.ConnectionError):
    """The subscription answered nothing, not even a PING, for as long as the check allows: a half-open
    connection (a Redis failover, a NAT that forgot it) that would never raise. A ConnectionError: the hub
    waits out and subscribes again as through any outage."""


class Client:
    """One WebSocket: its queue of event texts, drained by its own task."""

    def __init__(self, socket: WebSocket, capacity: int, topics: frozenset[int] = frozenset()) -> None:
        self.socket = socket
        self.queue: asyncio.Queue[str] = asyncio.Queue(capacity)
        self.dropped = asyncio.Event()
        self.topics = topics  # the topics it subscribed to: only their posts reach it (none: every post)

    def wants(self, topics: list[int] | None) -> bool:
        """Whether an event reaches this client: every event but a post of none of its topics."""
        return topics is None or not self.topics or not self.topics.isdisjoint(topics)

    def offer(self, text: str) -> bool:
        """Queue an event; False (and the client marked dropped) when the queue is full."""
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.dropped.set()
            return False
        return True

    async def send_all(self) -> None:
        while True:
            await self.socket.send_text(await self.queue.get())


class Hub:
    def __init__(
        self,
        redis: aioredis.Redis,
        channel: str,
        *,
        capacity: int,
        max_clients: int,
        metrics_interval_s: float,
        subscription_check_s: float,
        counts: Counts,
        registry: CollectorRegistry,
    ) -> None:
        self.redis = redis  # a subscriber's connection of its own (services.common.redis)
        self.channel = channel
        self.capacity = capacity
        self.max_clients = max_clients
        self.admitted = 0  # sockets being served, from before their accept: the cap counts them
        self.metrics_interval_s = metrics_interval_s
        self.check_s = subscription_check_s
        self.counts = counts
        self.clients: set[Client] = set()
        self.clients_gauge = Gauge("websocket_clients", "WebSocket clients connected", registry=registry)
        self.relayed = Counter(
            "websocket_events_relayed",
            "Events received from Redis and sent on to clients",
            ["type"],
            registry=registry,
        )
        self.refused = Counter(
            "websocket_clients_refused",
            "WebSocket handshakes refused by the app: no key or ticket, WS_MAX_CLIENTS reached, Redis away",
            ["reason"],
            registry=registry,
        )
        self.dropped = Counter(
            "websocket_clients_dropped", "Clients dropped because their queue was full", registry=registry
        )
        self.events_dropped = Counter(
            "websocket_events_dropped",
            "Messages on the channel that are not events of this version, never relayed",
            ["reason"],
            registry=registry,
        )
        self.resyncs = Counter(
            "websocket_resyncs",
            "Subscriptions made again after one was lost or went silent (clients told to reload)",
            registry=registry,
        )
        self.subscribed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._lost: str | None = None  # how the last subscription (or try) ended, until the next one is made
        self._drops: dict[str, int] = {}

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._relay()), asyncio.create_task(self._metrics())]

    async def close(self) -> None:
        self._closing = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.redis.aclose()

    def broadcast(self, text: str, topics: list[int] | None = None) -> None:
        """Offer an event to every client that wants it (``topics``: a post's, which narrow who gets it)."""
        for client in list(self.clients):
            if not client.wants(topics):
                continue
            if not client.offer(text):
                self.dropped.inc()
                self.clients.discard(client)
                log.warning("dropped a WebSocket client: %d events waiting for it", client.queue.qsize())

    async def _relay(self) -> None:
        """Forward every event on the channel; through a Redis outage or a silent subscription, subscribe
        again with backoff and tell the clients to reload."""

        async for attempt in waiting_out(
            "Redis (live events)",
            # Any failure, not only Redis away: a relay that stopped would leave every client in the dark.
            lambda exc: isinstance(exc, Exception),
            log,
            # A cancel that lands while redis-py connects can come out as a ConnectionError: stop then.
            stop=lambda _: self._closing,
            on_wait=self._on_lost,
        ):
            with attempt:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                try:
                    await pubsub.subscribe(self.channel)
                    self.subscribed.set()
                    if self._lost is not None:
                        self._resync(
                            f"the live subscription {self._lost} and is back: events may have been missed"
                        )
                    await self._listen(pubsub)
                finally:
                    # Closed, never polled again after an error: a pub/sub polled again reconnects and
                    # resubscribes by itself, and the events of the gap would be lost without a resync.
                    await _close(pubsub, self.check_s)

    async def _listen(self, pubsub: PubSub) -> None:
        """Relay what comes; after ``check_s`` of silence, PING (answered on this connection even while
        subscribed: a ``pong`` message, which ignore_subscribe_messages lets through); no answer within as
        long again and the subscription is given up (SilentSubscription)."""
        loop = asyncio.get_running_loop()
        poll_s = min(1.0, self.check_s / 2)
        heard = loop.time()
        pinged = False
        # Polled, not ``listen()``: redis-py 8.1 can swallow a cancel that lands while it subscribes, so the
        # loop also watches the closing flag.
        while not self._closing:
            message = await pubsub.get_message(timeout=poll_s)
            now = loop.time()
            if message is not None:
                heard, pinged = now, False  # anything at all says the connection is alive
                if message["type"] == "message":
                    self._forward(message["data"])
                continue
            if now - heard < self.check_s:
                continue
            if pinged:
                raise SilentSubscription(f"no answer to a PING in {self.check_s:g} s")
            try:
                async with asyncio.timeout(self.check_s):  # a full send buffer would block the write
                    await pubsub.ping(PING)
            except TimeoutError:
                raise SilentSubscription(f"a PING could not be sent in {self.check_s:g} s") from None
            heard, pinged = now, True

    def _forward(self, data: bytes | str) -> None:
        """Relay one message if it is an event; count and drop it if it is not."""
        try:
            event = parse_event(data)
        except ValidationError as exc:
            self._drop(exc)
            return
        # Re-encoded rather than the text as published: the clients get this version's shapes only (the
        # fields a newer replica added, which this version's dashboard would not read, are left out) and
        # nothing the channel carried that the contract does not say. One encode per event, not per client.
        self.broadcast(encode_event(event), event.data.topics if isinstance(event, PostEvent) else None)
        self.relayed.labels(event.type).inc()

    def _drop(self, exc: ValidationError) -> None:
        reason = _reason(exc)
        self.events_dropped.labels(reason).inc()
        count = self._drops[reason] = self._drops.get(reason, 0) + 1
        # Logged at the 1st, 10th, 100th... of each reason: a replica of another version can publish many.
        if str(count).rstrip("0") == "1":
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "the message"
            log.warning(
                "dropped a message on %s that is no event (%s, %d so far): %s: %s",
                self.channel,
                reason,
                count,
                where,
                error["msg"],
            )

    def _on_lost(self, exc: BaseException) -> None:
        self.subscribed.clear()
        if not redis_down(exc):
            log.error("live events: the relay failed", exc_info=exc)
        # What the clients are told; the details (hosts, ports) only in the log, which waiting_out writes.
        self._lost = "went silent" if isinstance(exc, SilentSubscription) else "was lost"

    def _resync(self, reason: str) -> None:
        self._lost = None
        self.resyncs.inc()
        log.warning("live events: %s; telling %d clients to reload", reason, len(self.clients))
        self.broadcast(encode_event(ResyncEvent(reason=reason, timestamp=utcnow())))
        self.relayed.labels("resync").inc()

    async def _metrics(self) -> None:
        while True:
            await asyncio.sleep(self.metrics_interval_s)
            if not self.clients:
                continue
            try:
                self.broadcast(encode_event(await self.metrics_update()))
                self.relayed.labels("metrics_update").inc()
            except Exception:
                log.exception("metrics_update failed; next try in %.0f s", self.metrics_interval_s)

    async def metrics_update(self) -> MetricsUpdateEvent:
        windows = {}
        for name, span in WINDOWS.items():
            counts = await self.counts(span)
            windows[name] = SentimentCounts(**counts, total=sum(counts.values()))
        return MetricsUpdateEvent(data=MetricsWindows(**windows), timestamp=utcnow())

    @property
    def full(self) -> bool:
        return self.admitted >= self.max_clients

    async def serve(self, socket: WebSocket, topics: frozenset[int] = frozenset()) -> None:
        """One client from accept to close: ``connected``, then the events (the posts of ``topics`` alone,
        if any), until it leaves or is dropped. Counted against the cap from its first step, before the
        accept."""
        self.admitted += 1
        try:
            await self._serve(socket, topics)
        finally:
            self.admitted -= 1

    async def _serve(self, socket: WebSocket, topics: frozenset[int]) -> None:
        await socket.accept()
        client = Client(socket, self.capacity, topics)
        client.offer(
            encode_event(ConnectedEvent(message="connected to sentiment_updates", timestamp=utcnow()))
        )
        self.clients.add(client)
        self.clients_gauge.inc()
        sender = asyncio.create_task(client.send_all())
        listener = asyncio.create_task(_until_closed(socket))
        dropped = asyncio.create_task(client.dropped.wait())
        try:
            await asyncio.wait({sender, listener, dropped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.clients.discard(client)
            self.clients_gauge.dec()
            for task in (sender, listener, dropped):
                task.cancel()
            await asyncio.gather(sender, listener, dropped, return_exceptions=True)
            if client.dropped.is_set() and socket.application_state == WebSocketState.CONNECTED:
                # Bounded: a client that reads nothing may never take even the close frame.
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(5):
                        await socket.close(code=1013, reason="too slow: events were waiting")


async def _until_closed(socket: WebSocket) -> None:
    """Read (and ignore) what the client sends until it disconnects; a frame over CLIENT_FRAME_MAX closes
    it (1009), on a server that did not refuse it already."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await socket.receive()
            if message["type"] == "websocket.disconnect":
                return
            size = len(message.get("text") or "") + len(message.get("bytes") or b"")
            if size > CLIENT_FRAME_MAX:
                await socket.close(code=1009, reason=f"frames are limited to {CLIENT_FRAME_MAX} bytes")
                return


async def _close(pubsub: PubSub, limit_s: float) -> None:
    """Close a subscription, bounded: on a half-open connection (or with redis-py 8.1 after an early cancel)
    closing can wait for ever; past ``limit_s`` the connection is dropped without a goodbye."""
    try:
        async with asyncio.timeout(limit_s):
            await pubsub.aclose()
        return
    except (TimeoutError, redis.exceptions.RedisError, OSError) as exc:
        log.info("closing the subscription failed (%s: %s): dropping its connection", type(exc).__name__, exc)
    connection: Any = pubsub.connection
    if connection is not None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(limit_s):
                await connection.disconnect(nowait=True)


def _reason(exc: ValidationError) -> str:
    """Why a message is no event, as websocket_events_dropped's ``reason``."""
    kinds = {error["type"] for error in exc.errors()}
    if kinds & {"json_invalid", "dict_type"} and all(not e["loc"] for e in exc.errors()):
        return "invalid_json"  # not JSON, or not a JSON object
    if kinds & {"union_tag_invalid", "union_tag_not_found"}:
        return "unknown_type"  # no ``type``, or one this version does not know
    return "invalid_fields"  # a known type, a field missing or of the wrong type
