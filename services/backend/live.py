"""The live side of the API (docs/api.md): one Redis subscription per process, fanned out to every
WebSocket client through a bounded queue each; a client whose queue is full is dropped, so it never slows
the others."""

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

import redis.asyncio as aioredis
from fastapi import WebSocket, WebSocketDisconnect
from prometheus_client import CollectorRegistry, Counter, Gauge
from starlette.websockets import WebSocketState

from services.common.events import (
    ConnectedEvent,
    MetricsUpdateEvent,
    MetricsWindows,
    SentimentCounts,
    encode_event,
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


class Client:
    """One WebSocket: its queue of event texts, drained by its own task."""

    def __init__(self, socket: WebSocket, capacity: int) -> None:
        self.socket = socket
        self.queue: asyncio.Queue[str] = asyncio.Queue(capacity)
        self.dropped = asyncio.Event()

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
        metrics_interval_s: float,
        counts: Counts,
        registry: CollectorRegistry,
    ) -> None:
        self.redis = redis  # a subscriber's connection of its own (services.common.redis)
        self.channel = channel
        self.capacity = capacity
        self.metrics_interval_s = metrics_interval_s
        self.counts = counts
        self.clients: set[Client] = set()
        self.clients_gauge = Gauge("websocket_clients", "WebSocket clients connected", registry=registry)
        self.relayed = Counter(
            "websocket_events_relayed",
            "Events received from Redis and sent on to clients",
            ["type"],
            registry=registry,
        )
        self.dropped = Counter(
            "websocket_clients_dropped", "Clients dropped because their queue was full", registry=registry
        )
        self.subscribed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._relay()), asyncio.create_task(self._metrics())]

    async def close(self) -> None:
        self._closing = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.redis.aclose()

    def broadcast(self, text: str) -> None:
        for client in list(self.clients):
            if not client.offer(text):
                self.dropped.inc()
                self.clients.discard(client)
                log.warning("dropped a WebSocket client: %d events waiting for it", client.queue.qsize())

    async def _relay(self) -> None:
        """Forward every message on the channel; through a Redis outage, resubscribe with backoff."""

        async for attempt in waiting_out(
            "Redis (live events)",
            redis_down,
            log,
            # A cancel that lands while redis-py connects can come out as a ConnectionError: stop then.
            stop=lambda _: self._closing,
            on_wait=lambda _: self.subscribed.clear(),
        ):
            with attempt:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    self.subscribed.set()
                    # Polled, not ``listen()``: redis-py 8.1 can swallow a cancel that lands while it
                    # subscribes, so the loop also watches the closing flag.
                    while not self._closing:
                        message = await pubsub.get_message(timeout=1.0)
                        if message is None:
                            continue
                        data = message["data"]
                        text = data.decode() if isinstance(data, bytes) else data
                        self.broadcast(text)
                        self.relayed.labels(_type_of(text)).inc()

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

    async def serve(self, socket: WebSocket) -> None:
        """One client from accept to close: ``connected``, then the events, until it leaves or is dropped."""
        await socket.accept()
        client = Client(socket, self.capacity)
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
    """Read (and ignore) what the client sends until it disconnects."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await socket.receive_text()


def _type_of(text: str) -> str:
    try:
        kind = json.loads(text).get("type")
    except (ValueError, AttributeError):
        return "invalid"
    return kind if kind in ("post", "alert") else "other"
