"""The Mastodon source: the public or hashtag timelines of MASTODON_INSTANCES, by REST polling, or on the
first instance through its streaming API when MASTODON_TOKEN is set (docs/sources.md).

Polled, every MASTODON_POLL_S, each timeline (the federated public one, or ``/timelines/tag/<tag>`` for each
of MASTODON_TAGS) is read from its cursor on: ``min_id`` is the newest status id seen there, pages of 40
until one comes short. The cursors are written in the MULTI of the XADD of what they cover. A status is the
post of its ``uri``, whichever instance it came through and whatever its HTML, so a status seen on two
instances (and a boost, which carries its original) is one post. The rate-limit headers are honoured: a
timeline whose ``X-RateLimit-Remaining`` runs out waits for ``X-RateLimit-Reset``, a 429 for its
``Retry-After``. A 401 (the instance disabled its public timelines) is reported and that timeline left alone
until the source restarts. REST signals no deletes.

Streamed, the token's instance is asked for its streaming host (``/api/v2/instance``), one WebSocket
subscribes to each of its timelines, and each connection first catches up by REST from the cursors (the
streaming API replays nothing), so a restart or a drop loses nothing. ``update`` events are posts,
``delete`` events deletes: a delete names only the instance's status id, so the uri of each status sent is
remembered in Redis for MASTODON_DELETE_DAYS. Edits (``status.update``) and other events are skipped and
counted. A token the server refuses (401, 403) is reported, and the timelines are polled instead.
"""

import argparse
import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from services.common.redis import redis_unavailable
from services.common.retry import waiting_out
from services.common.settings import Settings
from services.common.sources import SourceState
from services.common.timestamps import parse_utc, utcnow
from services.ingester.connection import Dropped, listen, reconnecting, transient
from services.ingester.live import USER_AGENT, Poller, short, text_of_html
from services.ingester.mastodon_ids import StatusIds
from services.ingester.producer import Producer
from services.ingester.source import Source, settings_only

log = logging.getLogger("ingester")
LABEL = "mastodon"
PAGE = 40  # the most a timeline page holds
PAGES_A_ROUND = 10  # a timeline far behind catches up ten pages a round
MAX_FRAME_BYTES = 1 << 20


@dataclass
class Timeline:
    instance: str
    path: str  # timelines/public or timelines/tag/<tag>
    cursor: str | None = None  # the newest status id seen
    not_before: float = 0.0  # rate-limited until
    disabled: str = ""  # why it is left alone (a 401)
    streamed: bool = False  # read through the streaming API, not polled

    @property
    def key(self) -> str:
        return f"{LABEL}:{self.instance}/{self.path}"

    @property
    def subscription(self) -> dict[str, str]:
        """What the streaming API is asked for to follow this timeline."""
        if self.path.startswith("timelines/tag/"):
            return {"stream": "hashtag", "tag": unquote(self.path.removeprefix("timelines/tag/"))}
        return {"stream": "public"}

    def carries(self, stream: object) -> bool:
        """Whether an event's ``stream`` (``["public"]``, ``["hashtag", "<tag>"]``) is this timeline's."""
        wanted = self.subscription
        if not isinstance(stream, list) or not stream or stream[0] != wanted["stream"]:
            return False
        return "tag" not in wanted or (len(stream) > 1 and str(stream[1]).lower() == wanted["tag"].lower())


class Mastodon(Poller):
    def setup(self, settings: Settings) -> None:
        self.poll_s = settings.mastodon_poll_s
        paths = [f"timelines/tag/{quote(tag.lstrip('#'), safe='')}" for tag in settings.mastodon_tags]
        self.timelines = [
            Timeline(instance.rstrip("/"), path)
            for instance in settings.mastodon_instances
            for path in paths or ["timelines/public"]
        ]
        self.failing: dict[str, str] = {}
        self.token = settings.mastodon_token.get_secret_value()
        self.home = self.timelines[0].instance if self.token and self.timelines else ""
        for timeline in self.timelines:
            timeline.streamed = timeline.instance == self.home
        self.ids = StatusIds(self.producer.client, self.producer.writer.names, settings.mastodon_delete_days)
        self.refused = ""  # why the token is no longer used
        self.streaming_problem = ""  # why the stream is not connected now

    async def run(self) -> None:
        for timeline in self.timelines:
            timeline.cursor = await self.producer.writer.cursor(timeline.key)
        async with asyncio.TaskGroup() as tasks:
            if self.home:
                tasks.create_task(reconnecting(self.outlet, self.streaming, transient, self.stop))
            tasks.create_task(
                reconnecting(self.outlet, self.rounds, lambda exc: isinstance(exc, OSError), self.stop)
            )

    async def round(self) -> None:
        for timeline in self.timelines:
            if self.stop.is_set():
                return
            if timeline.streamed or timeline.disabled or time.monotonic() < timeline.not_before:
                continue
            try:
                await self.read(timeline)
                self.failing.pop(timeline.key, None)
            except httpx.HTTPError as exc:
                self.failing[timeline.key] = f"{type(exc).__name__}: {exc}"[:200]
                log.warning("mastodon: %s failed (%s): trying again next round", timeline.key, exc)

    def state(self) -> SourceState:
        return "reconnecting" if self.streaming_problem else "live"

    def detail(self) -> str:
        problems = {t.key: t.disabled for t in self.timelines if t.disabled} | self.failing
        if self.home:
            problems[f"{LABEL}:{self.home} streaming"] = self.refused or self.streaming_problem
        return "; ".join(f"{key}: {why}" for key, why in problems.items() if why)[:300]

    async def read(self, timeline: Timeline, pages: int = PAGES_A_ROUND) -> bool:
        """The timeline's statuses after its cursor, oldest page first, a page at a time onto the stream, at
        most ``pages``; whether it is caught up."""
        for _ in range(pages):
            params: dict[str, str | int] = {"limit": PAGE}
            if timeline.cursor is not None:
                params["min_id"] = timeline.cursor
            response = await self.client.get(
                f"{timeline.instance}/api/v1/{timeline.path}", params=params, headers=self.headers(timeline)
            )
            if response.status_code == 401:
                timeline.disabled = "401: this instance does not show this timeline without signing in"
                log.warning(
                    "mastodon: %s: %s; left alone until the source restarts", timeline.key, timeline.disabled
                )
                return True
            self._pace(timeline, response)
            if response.status_code == 429:
                raise httpx.HTTPStatusError("429: rate limited", request=response.request, response=response)
            response.raise_for_status()
            statuses = response.json()
            if not isinstance(statuses, list):
                self.outlet.event()
                self.outlet.skip("malformed", f"{timeline.key}: not a list: {short(statuses)}")
                return True
            if timeline.cursor is None:
                # A first start reads from now on: the newest id is where the next round begins.
                newest = max(
                    (s["id"] for s in statuses if isinstance(s, dict) and "id" in s), key=_order, default=None
                )
                if newest is not None:
                    self.advance(timeline, newest)
                    await self.send()
                return True
            for status in sorted(
                (s for s in statuses if isinstance(s, dict)), key=lambda s: _order(s.get("id"))
            ):
                self.handle(status, timeline)
                self.advance(timeline, status.get("id"))
            await self.send()
            if len(statuses) < PAGE:
                return True
            if time.monotonic() < timeline.not_before:
                return False
        return False

    def headers(self, timeline: Timeline) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if timeline.streamed else {}

    def advance(self, timeline: Timeline, status_id: str | None) -> None:
        """The timeline's cursor moved on to ``status_id`` (never back), written with the next send."""
        if status_id is None or not str(status_id).isdigit():
            return
        timeline.cursor = max(timeline.cursor or "0", str(status_id), key=_order)
        self.producer.advance(timeline.key, timeline.cursor)

    def _pace(self, timeline: Timeline, response: httpx.Response) -> None:
        """Honour the rate-limit headers: out of requests, or told to wait, the timeline waits."""
        wait = 0.0
        if response.status_code == 429:
            wait = _seconds(response.headers.get("Retry-After")) or self.poll_s
        remaining = response.headers.get("X-RateLimit-Remaining")
        if remaining is not None and remaining.isdigit() and int(remaining) <= 1:
            reset = response.headers.get("X-RateLimit-Reset")
            with contextlib.suppress(ValueError, TypeError):
                wait = max(wait, (parse_utc(reset) - utcnow()).total_seconds())
        if wait > 0:
            timeline.not_before = time.monotonic() + wait
            log.info("mastodon: %s rate-limited: waiting %.0f s", timeline.key, wait)

    def handle(self, status: dict[str, Any], timeline: Timeline) -> bool:
        """One status of ``timeline`` onto the stream (or skipped); a boost is its original."""
        self.outlet.event()
        boosted = status.get("reblog")
        original: dict[str, Any] = boosted if isinstance(boosted, dict) else status
        uri = original.get("uri")
        if not isinstance(uri, str) or not uri:
            self.outlet.skip("malformed", f"a status without uri: {short(status)}")
            return False
        account = original.get("account")
        if isinstance(account, dict) and account.get("noindex") is True:
            self.outlet.skip("opted out")  # its author asked not to be indexed: not analysed either
            return False
        acct = str(account.get("acct") or "") if isinstance(account, dict) else ""
        parts = [
            str(original.get("spoiler_text") or "").strip(),
            text_of_html(str(original.get("content") or "")),
        ]
        text = "\n\n".join(p for p in parts if p)
        created = None
        with contextlib.suppress(ValueError, TypeError):
            created = parse_utc(original.get("created_at"))
        link = original.get("url") if isinstance(original.get("url"), str) else uri
        lang = original.get("language") if isinstance(original.get("language"), str) else None
        sent = self.outlet.post(uri, text, acct, created, link, lang)
        if sent and timeline.streamed and original.get("id"):
            # Its id here is what a delete will name (a boost's own id is an unboost: nothing to delete).
            self.ids.sent(timeline.instance, str(original["id"]), uri)
        return sent

    # --- streamed -------------------------------------------------------------------------------------

    async def streaming(self) -> None:
        """One connection to the home instance's streaming API: subscribed, caught up by REST, then read
        until it drops (Dropped, once it delivered), fails, or the ingester stops."""
        streamed = [t for t in self.timelines if t.streamed and not t.disabled]
        try:
            url = await self.streaming_url()
            self.outlet.set_state("connecting", endpoint=url)
            async with connect(
                url,
                additional_headers={"Authorization": f"Bearer {self.token}"},
                user_agent_header=USER_AGENT,
                max_size=MAX_FRAME_BYTES,
                open_timeout=10,
                ping_interval=20,
                ping_timeout=20,
                close_timeout=2,
            ) as socket:
                for timeline in streamed:
                    await socket.send(json.dumps({"type": "subscribe", **timeline.subscription}))
                for timeline in streamed:
                    await self.catch_up(timeline)
                self.streaming_problem = ""
                self.outlet.set_state("live", self.detail())
                log.info("mastodon: streaming %d timelines from %s", len(streamed), url)
                received = await listen(
                    socket, self.outlet, self.on_frame, lambda: self.send(wait=False), self.stop
                )
        except InvalidStatus as exc:
            if exc.response.status_code not in (401, 403):
                self.streaming_problem = f"{exc}"[:200]
                raise
            self.refuse(exc.response.status_code)
            return
        except Exception as exc:
            self.streaming_problem = f"{type(exc).__name__}: {exc}"[:200]
            raise
        if self.stop.is_set():
            return
        self.streaming_problem = f"the stream closed after {received} events"
        if received:
            raise Dropped(f"the streaming API of {self.home} closed after {received} events")
        raise ConnectionError(f"the streaming API of {self.home} closed the connection before any event")

    async def streaming_url(self) -> str:
        """The WebSocket of the home instance's streaming API: on the host its /api/v2/instance names (its
        own, when it names none or predates v2)."""
        response = await self.client.get(f"{self.home}/api/v2/instance")
        host = ""
        if response.status_code != 404:
            response.raise_for_status()
            with contextlib.suppress(ValueError, AttributeError):
                host = str(response.json().get("configuration", {}).get("urls", {}).get("streaming") or "")
        parts = urlsplit(host or self.home)
        scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
        return f"{scheme}://{parts.netloc}/api/v1/streaming"

    async def catch_up(self, timeline: Timeline) -> None:
        """What the timeline had while no stream was read, by REST from its cursor, however many pages (the
        streaming API replays nothing)."""
        while not self.stop.is_set():
            try:
                if await self.read(timeline):
                    return
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 429:
                    raise
            with contextlib.suppress(TimeoutError):  # rate-limited: wait as told
                await asyncio.wait_for(self.stop.wait(), max(0.0, timeline.not_before - time.monotonic()))

    def refuse(self, code: int) -> None:
        self.refused = f"{code}: the streaming API refused MASTODON_TOKEN; polled instead, deletes not seen"
        log.warning("mastodon: %s: %s", self.home, self.refused)
        self.token = ""
        for timeline in self.timelines:
            timeline.streamed = False

    def on_frame(self, frame: str | bytes) -> None:
        """One message of the streaming API: ``{"stream": [...], "event": ..., "payload": "<JSON>"}``."""
        try:
            message = json.loads(frame)
            if not isinstance(message, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            self.outlet.event()
            self.outlet.skip("malformed", f"{exc}: {str(frame)[:100]!r}")
            return
        event, payload = message.get("event"), message.get("payload")
        if event == "update":
            try:
                status = json.loads(payload) if isinstance(payload, str) else payload
                if not isinstance(status, dict):
                    raise ValueError("not an object")
            except ValueError as exc:
                self.outlet.event()
                self.outlet.skip(
                    "malformed", f"an update whose payload is no status ({exc}): {short(message)}"
                )
                return
            timeline = next(
                (t for t in self.timelines if t.streamed and t.carries(message.get("stream"))), None
            )
            if timeline is None:
                self.outlet.event()
                self.outlet.skip(
                    "other stream", f"an update of a stream not asked for: {message.get('stream')}"
                )
                return
            self.handle(status, timeline)
            self.advance(timeline, status.get("id"))
            return
        self.outlet.event()
        if event == "delete" and isinstance(payload, str | int) and str(payload).isdigit():
            self.ids.deleted(self.home, str(payload))
        elif event == "status.update":
            self.outlet.skip("update")  # an edit: the post keeps the text it was analysed with
        elif "error" in message:
            self.outlet.skip("error", f"the streaming API said: {short(message)}")
        else:
            self.outlet.skip("malformed" if event == "delete" else "other event")

    async def send(self, wait: bool = True) -> None:
        """Out onto the stream: the ids of the statuses sent remembered first (a crash between leaves an id
        remembered, never a post whose delete cannot be found), the deletes looked up, then the flush."""
        if self.ids.pending:
            async for attempt in waiting_out("Redis", redis_unavailable, log):
                with attempt:
                    await self.ids.settle(self.outlet)
        await self.producer.flush(wait=wait)


def _order(status_id: object) -> int:
    """Status ids are snowflakes as strings: compared as numbers."""
    text = str(status_id or "")
    return int(text) if text.isdigit() else -1


def _seconds(value: str | None) -> float:
    with contextlib.suppress(TypeError, ValueError):
        return max(0.0, float(value or ""))
    return 0.0


async def run(settings: Settings, args: argparse.Namespace, stop: asyncio.Event) -> Producer:
    del args
    return await Mastodon.serve(LABEL, settings, stop)


SOURCE = Source(LABEL, "the public or hashtag timelines of MASTODON_INSTANCES", settings_only, run)
