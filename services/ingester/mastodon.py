"""The Mastodon source: the public or hashtag timelines of MASTODON_INSTANCES, by REST polling
(docs/sources.md).

Every MASTODON_POLL_S, each timeline (the federated public one, or ``/timelines/tag/<tag>`` for each of
MASTODON_TAGS) is read from its cursor on: ``min_id`` is the newest status id seen there, pages of 40 until
one comes short. The cursors are written in the MULTI of the XADD of what they cover. A status is the post of
its ``uri``, whichever instance it came through and whatever its HTML, so a status seen on two instances
(and a boost, which carries its original) is one post. The rate-limit headers are honoured: a timeline
whose ``X-RateLimit-Remaining`` runs out waits for ``X-RateLimit-Reset``, a 429 for its ``Retry-After``.
A 401 (the instance disabled its public timelines) is reported and that timeline left alone until the
source restarts. REST signals no deletes.
"""

import argparse
import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from services.common.settings import Settings
from services.common.timestamps import parse_utc, utcnow
from services.ingester.live import Poller, reconnecting, short, text_of_html
from services.ingester.producer import Producer
from services.ingester.source import Source

log = logging.getLogger("ingester")
LABEL = "mastodon"
PAGE = 40  # the most a timeline page holds
PAGES_A_ROUND = 10  # a timeline far behind catches up ten pages a round


@dataclass
class Timeline:
    instance: str
    path: str  # timelines/public or timelines/tag/<tag>
    cursor: str | None = None  # the newest status id seen
    not_before: float = 0.0  # rate-limited until
    disabled: str = ""  # why it is left alone (a 401)

    @property
    def key(self) -> str:
        return f"{LABEL}:{self.instance}/{self.path}"


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

    async def run(self) -> None:
        for timeline in self.timelines:
            timeline.cursor = await self.producer.writer.cursor(timeline.key)
        await reconnecting(self.outlet, self.rounds, lambda exc: isinstance(exc, OSError), self.stop)

    async def round(self) -> None:
        for timeline in self.timelines:
            if self.stop.is_set():
                return
            if timeline.disabled or time.monotonic() < timeline.not_before:
                continue
            try:
                await self.read(timeline)
                self.failing.pop(timeline.key, None)
            except httpx.HTTPError as exc:
                self.failing[timeline.key] = f"{type(exc).__name__}: {exc}"[:200]
                log.warning("mastodon: %s failed (%s): trying again next round", timeline.key, exc)

    def detail(self) -> str:
        disabled = {t.key: t.disabled for t in self.timelines if t.disabled}
        return "; ".join(f"{key}: {why}" for key, why in (disabled | self.failing).items())[:300]

    async def read(self, timeline: Timeline) -> None:
        """The timeline's statuses after its cursor, oldest page first, a page at a time onto the stream."""
        for _ in range(PAGES_A_ROUND):
            params: dict[str, str | int] = {"limit": PAGE}
            if timeline.cursor is not None:
                params["min_id"] = timeline.cursor
            response = await self.client.get(f"{timeline.instance}/api/v1/{timeline.path}", params=params)
            if response.status_code == 401:
                timeline.disabled = "401: this instance does not show this timeline without signing in"
                log.warning(
                    "mastodon: %s: %s; left alone until the source restarts", timeline.key, timeline.disabled
                )
                return
            self._pace(timeline, response)
            if response.status_code == 429:
                raise httpx.HTTPStatusError("429: rate limited", request=response.request, response=response)
            response.raise_for_status()
            statuses = response.json()
            if not isinstance(statuses, list):
                self.outlet.event()
                self.outlet.skip("malformed", f"{timeline.key}: not a list: {short(statuses)}")
                return
            if timeline.cursor is None:
                # A first start reads from now on: the newest id is where the next round begins.
                newest = max(
                    (s["id"] for s in statuses if isinstance(s, dict) and "id" in s), key=_order, default=None
                )
                timeline.cursor = newest
                if newest is not None:
                    self.producer.advance(timeline.key, newest)
                    await self.producer.flush()
                return
            for status in sorted(
                (s for s in statuses if isinstance(s, dict)), key=lambda s: _order(s.get("id"))
            ):
                self.handle(status)
                timeline.cursor = max(timeline.cursor, str(status.get("id") or timeline.cursor), key=_order)
            self.producer.advance(timeline.key, timeline.cursor)
            await self.producer.flush()
            if len(statuses) < PAGE or time.monotonic() < timeline.not_before:
                return

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

    def handle(self, status: dict[str, Any]) -> bool:
        """One status onto the stream (or skipped); a boost is its original."""
        self.outlet.event()
        boosted = status.get("reblog")
        original: dict[str, Any] = boosted if isinstance(boosted, dict) else status
        uri = original.get("uri")
        if not isinstance(uri, str) or not uri:
            self.outlet.skip("malformed", f"a status without uri: {short(status)}")
            return False
        account = original.get("account")
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
        return self.outlet.post(uri, text, acct, created, link, lang)


def _order(status_id: object) -> int:
    """Status ids are snowflakes as strings: compared as numbers."""
    text = str(status_id or "")
    return int(text) if text.isdigit() else -1


def _seconds(value: str | None) -> float:
    with contextlib.suppress(TypeError, ValueError):
        return max(0.0, float(value or ""))
    return 0.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # everything is a setting (MASTODON_*, INGEST_LANGUAGES)


async def run(settings: Settings, args: argparse.Namespace, stop: asyncio.Event) -> Producer:
    del args
    return await Mastodon.serve(LABEL, settings, stop)


SOURCE = Source(LABEL, "the public or hashtag timelines of MASTODON_INSTANCES", add_arguments, run)
