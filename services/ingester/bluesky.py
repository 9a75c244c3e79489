"""The Bluesky source: every new post on the network, through Jetstream's ``/subscribe`` WebSocket
(docs/sources.md).

One connection to one of BLUESKY_JETSTREAM_URLS at a time (the next on failure), uncompressed JSON frames
(compression needs Jetstream's own zstd dictionary), ``wantedCollections=app.bsky.feed.post``. Creates become
posts, deletes become deletes; updates, other collections, identity and account events are skipped and
counted. The cursor is the ``time_us`` of the last event handled, whatever it was, written in the MULTI of
the XADD that follows it, and rewound BLUESKY_REWIND_S on reconnect (the worker drops what comes twice); the
``cursor`` sequence newer servers add is instance-local and never used. A server that resumes much later than
the cursor asked (older than its replay window, which it clamps silently) is reported as missed posts.
"""

import argparse
import asyncio
import contextlib
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from services.common.settings import Settings
from services.common.stream import BacklogFull
from services.common.timestamps import parse_utc
from services.ingester.language import Languages
from services.ingester.live import Dropped, Outlet, SourceMetrics, reconnecting, short
from services.ingester.producer import Producer
from services.ingester.source import Source

log = logging.getLogger("ingester")
LABEL = "bluesky"
COLLECTION = "app.bsky.feed.post"
FLUSH_EVERY_S = 0.2  # the longest a post waits in the connector before it is on the stream
MISSED_US = 60_000_000  # a first event this much later than the cursor asked for: the server clamped it
MAX_FRAME_BYTES = 1 << 20


def at_uri(did: str, rkey: str) -> str:
    return f"at://{did}/{COLLECTION}/{rkey}"


def web_url(did: str, rkey: str) -> str:
    return f"https://bsky.app/profile/{did}/post/{rkey}"


class Jetstream:
    def __init__(self, settings: Settings, producer: Producer, outlet: Outlet, stop: asyncio.Event) -> None:
        self.endpoints = list(settings.bluesky_jetstream_urls)
        self.rewind_us = int(settings.bluesky_rewind_s * 1_000_000)
        self.producer = producer
        self.outlet = outlet
        self.stop = stop
        self.turn = 0  # which endpoint is next
        self.cursor: int | None = None  # time_us of the last event handled
        self._said_seq = False

    def url(self) -> tuple[str, int | None]:
        endpoint = self.endpoints[self.turn % len(self.endpoints)]
        query: list[tuple[str, str]] = [("wantedCollections", COLLECTION)]
        asked = None if self.cursor is None else max(0, self.cursor - self.rewind_us)
        if asked is not None:
            query.append(("cursor", str(asked)))
        return f"{endpoint}?{urlencode(query)}", asked

    async def run(self) -> None:
        saved = await self.producer.writer.cursor(LABEL)
        if saved is not None and saved.isdigit():
            self.cursor = int(saved)
            log.info("bluesky: resuming from time_us %s, rewound %.1f s", saved, self.rewind_us / 1e6)
        await reconnecting(self.outlet, self.session, transient, self.stop)

    async def session(self) -> None:
        """One connection, until it drops (Dropped, once it delivered), fails, or the ingester stops."""
        url, asked = self.url()
        self.turn += 1  # a failure moves to the next instance; the cursor works on all of them
        self.outlet.set_state("connecting", endpoint=url.split("?")[0])
        async with connect(
            url,
            max_size=MAX_FRAME_BYTES,
            open_timeout=10,
            ping_interval=20,
            ping_timeout=20,
            close_timeout=2,  # a server still sending while we stop reading may never answer the close
            compression=None,
        ) as socket:
            self.turn -= 1  # connected: stay on this instance
            self.outlet.set_state("live")
            log.info("bluesky: connected to %s", url)
            received = await self._read(socket, asked)
        if self.stop.is_set():
            return
        if received:
            raise Dropped(f"the connection to {url.split('?')[0]} closed after {received} events")
        self.turn += 1  # it took us and said nothing: the next instance
        raise ConnectionError(f"{url.split('?')[0]} closed the connection before any event")

    async def _read(self, socket: ClientConnection, asked: int | None) -> int:
        received = 0
        flushed = time.monotonic()
        try:
            while not self.stop.is_set():
                try:
                    async with asyncio.timeout(FLUSH_EVERY_S):  # recv() is safe to cancel: nothing is lost
                        frame = await socket.recv()
                except TimeoutError:
                    frame = None
                if frame is not None:
                    received += 1
                    at = self.handle(frame)
                    if received == 1 and at is not None and asked is not None and at - asked > MISSED_US:
                        self.outlet.missed((at - asked) / 1e6)
                now = time.monotonic()
                if self.producer.queued >= self.producer.batch or now - flushed >= FLUSH_EVERY_S:
                    flushed = now
                    try:
                        await self.producer.flush(wait=False)
                    except BacklogFull as full:
                        await self._wait_out(socket, full)
                        return received
                    await self.outlet.report()
        except ConnectionClosed as closed:
            log.info("bluesky: connection closed (%s)", closed)
        finally:
            # What was read and not sent yet, unless the backlog is full: then it is read again from the
            # cursor, which covers only what was sent.
            with contextlib.suppress(BacklogFull):
                await self.producer.flush(wait=False)
        return received

    async def _wait_out(self, socket: ClientConnection, full: BacklogFull) -> None:
        """The stream is at STREAM_MAX_BACKLOG: leave the server (rather than buffer without bound), wait
        for room, and let the reconnect resume from the cursor."""
        log.warning("bluesky: %s: disconnecting until the workers catch up", full)
        self.outlet.set_state("waiting_for_backlog", str(full))
        await self.outlet.report(force=True)
        socket.transport.abort()  # not close(): that waits on a server still sending what we no longer read
        await self.producer.wait_for_room(self.stop)

    def handle(self, frame: str | bytes) -> int | None:
        """One Jetstream frame onto the stream (or skipped); the event's time_us, when it has one."""
        try:
            event = json.loads(frame)
        except ValueError as exc:
            self.outlet.event()
            self.outlet.skip("malformed", f"not JSON ({exc}): {str(frame)[:100]!r}")
            return None
        if not isinstance(event, dict) or not isinstance(event.get("time_us"), int):
            self.outlet.event()
            self.outlet.skip("malformed", f"no time_us: {short(event)}")
            return None
        time_us: int = event["time_us"]
        self.outlet.event(datetime.fromtimestamp(time_us / 1e6, UTC))
        if "cursor" in event and not self._said_seq:
            self._said_seq = True
            log.info(
                "bluesky: the server sends a 'cursor' sequence (a v2 server): resuming by time_us anyway"
            )
        try:
            self._event(event)
        except (KeyError, TypeError, ValueError) as exc:
            self.outlet.skip("malformed", f"{type(exc).__name__}: {exc}: {short(event)}")
        # Every event handled moves the cursor, a skipped one too: it is written with the next XADD.
        self.cursor = time_us if self.cursor is None else max(self.cursor, time_us)
        self.producer.advance(LABEL, str(self.cursor))
        return time_us

    def _event(self, event: dict[str, Any]) -> None:
        kind = event.get("kind")
        if kind != "commit":
            self.outlet.skip(kind if kind in ("identity", "account") else "other kind")
            return
        commit = event["commit"]
        if commit.get("collection") != COLLECTION:
            self.outlet.skip("other collection")
            return
        did, rkey, operation = str(event["did"]), str(commit["rkey"]), commit.get("operation")
        if operation == "delete":
            self.outlet.delete(at_uri(did, rkey), datetime.fromtimestamp(event["time_us"] / 1e6, UTC))
        elif operation == "create":
            record = commit["record"]
            langs = record.get("langs")
            declared = langs[0] if isinstance(langs, list) and langs and isinstance(langs[0], str) else None
            text = record.get("text")
            self.outlet.post(
                at_uri(did, rkey),
                text if isinstance(text, str) else "",
                did,
                _created(record.get("createdAt")),
                web_url(did, rkey),
                declared,
            )
        else:
            self.outlet.skip("update" if operation == "update" else "other operation")


def _created(value: object) -> datetime | None:
    """The record's own createdAt (client-declared: Outlet.when replaces an implausible one)."""
    if not isinstance(value, str):
        return None
    try:
        return parse_utc(value)
    except ValueError:
        return None


def transient(exc: BaseException) -> bool:
    """A failure that may pass: the network, the server, a handshake refused for now."""
    return isinstance(exc, OSError | TimeoutError | ConnectionClosed | InvalidHandshake) and not isinstance(
        exc, InvalidURI
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # everything is a setting (BLUESKY_*, INGEST_LANGUAGES)


async def run(settings: Settings, args: argparse.Namespace, stop: asyncio.Event) -> Producer:
    del args
    producer = Producer.for_settings(settings, 0)
    outlet = Outlet(
        LABEL, producer, Languages(settings.ingest_languages), SourceMetrics(), settings.retention_days
    )
    async with outlet.serving(settings.ingest_metrics_port, stop):
        await Jetstream(settings, producer, outlet, stop).run()
    return producer


SOURCE = Source(LABEL, "every new Bluesky post, from Jetstream", add_arguments, run)
