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
import json
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import connect

from services.common.settings import Settings
from services.common.timestamps import parse_utc
from services.ingester.connection import Dropped, listen, reconnecting, transient
from services.ingester.live import Outlet, short
from services.ingester.producer import Producer
from services.ingester.source import Source, settings_only

log = logging.getLogger("ingester")
LABEL = "bluesky"
COLLECTION = "app.bsky.feed.post"
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
        self._asked: int | None = None  # the time_us this connection asked to start from
        self._first = True  # the next frame is this connection's first

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
            self._asked, self._first = asked, True
            received = await listen(
                socket, self.outlet, self.on_frame, lambda: self.producer.flush(wait=False), self.stop
            )
        if self.stop.is_set():
            return
        if received:
            raise Dropped(f"the connection to {url.split('?')[0]} closed after {received} events")
        self.turn += 1  # it took us and said nothing: the next instance
        raise ConnectionError(f"{url.split('?')[0]} closed the connection before any event")

    def on_frame(self, frame: str | bytes) -> None:
        at = self.handle(frame)
        first, self._first = self._first, False
        if first and at is not None and self._asked is not None and at - self._asked > MISSED_US:
            self.outlet.missed((at - self._asked) / 1e6)

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


async def run(settings: Settings, args: argparse.Namespace, stop: asyncio.Event) -> Producer:
    del args
    outlet = Outlet.for_settings(LABEL, settings)
    async with outlet.serving(settings.ingest_metrics_port, stop):
        await Jetstream(settings, outlet.producer, outlet, stop).run()
    return outlet.producer


SOURCE = Source(LABEL, "every new Bluesky post, from Jetstream", settings_only, run)
