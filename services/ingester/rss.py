"""The RSS and Atom source: the entries of the feeds in RSS_FEEDS, polled every RSS_POLL_S (docs/sources.md).

Each feed is asked for with the ETag and Last-Modified of its last answer (a 304 costs the server nothing);
those validators are the feed's cursor, written in the MULTI of the XADD of its new entries. Entries are
parsed by fastfeedparser, and told apart by guid, else link: an entry's id is ``rss:`` and the sha256 of the
feed URL and that. The ids seen are kept RSS_SEEN_DAYS in a sorted set in Redis, so an entry that stays in a
feed for days is sent once (the worker would drop it anyway, for as long as it keeps the post). An entry
without a date takes the fetch time; without an author, the feed's title; a full-text entry longer than the
platform keeps is cut, not skipped. Feeds signal no deletes.
"""

import argparse
import asyncio
import contextlib
import hashlib
import json
import logging
import time
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import fastfeedparser
import httpx

from services.common.settings import Settings
from services.common.timestamps import parse_utc, utcnow
from services.ingester.connection import reconnecting
from services.ingester.live import Poller, text_of_html
from services.ingester.producer import Producer
from services.ingester.source import Source, SourceError, settings_only

log = logging.getLogger("ingester")
LABEL = "rss"
SEEN = "ingest_seen:rss"  # sorted set under the prefix: post_id -> when it was first seen


def entry_id(feed_url: str, entry: dict[str, Any]) -> str | None:
    """``rss:`` and the sha256 of the feed URL and the entry's guid (else its link); None without either."""
    key = entry.get("id") or entry.get("link")
    if not isinstance(key, str) or not key:
        return None
    return "rss:" + hashlib.sha256(f"{feed_url}\n{key}".encode()).hexdigest()


def _when(entry: dict[str, Any]) -> datetime | None:
    for field in ("published", "updated"):
        value = entry.get(field)
        if isinstance(value, str) and value:
            with contextlib.suppress(ValueError, TypeError):
                return parse_utc(value)
    return None


def _text(entry: dict[str, Any]) -> str:
    """The title, then the entry's full content (else its summary), its HTML made text."""
    contents = entry.get("content")
    body = ""
    if isinstance(contents, list) and contents and isinstance(contents[0], dict):
        body = str(contents[0].get("value") or "")
    body = body or str(entry.get("description") or "")
    title = text_of_html(str(entry.get("title") or ""))
    text = text_of_html(body) if body else ""
    parts = [title] if title else []
    if text and text != title:  # a feed that repeats the title as its summary says it once
        parts.append(text)
    return "\n\n".join(parts)


class Feeds(Poller):
    def setup(self, settings: Settings) -> None:
        self.poll_s = settings.rss_poll_s
        self.urls = list(settings.rss_feeds)
        self.seen_s = settings.rss_seen_days * 86_400
        self.seen = self.producer.writer.names.prefix + SEEN
        self.not_before: dict[str, float] = {}  # a feed that asked us to wait (429, 503 with Retry-After)
        self.failing: dict[str, str] = {}

    async def run(self) -> None:
        await reconnecting(self.outlet, self.rounds, lambda exc: isinstance(exc, OSError), self.stop)

    async def round(self) -> None:
        for url in self.urls:
            if self.stop.is_set():
                break
            await self.poll_safely(url)
        await self.producer.client.zremrangebyscore(self.seen, 0, utcnow().timestamp() - self.seen_s)

    def detail(self) -> str:
        return "; ".join(f"{url}: {why}" for url, why in self.failing.items())[:300]

    async def poll_safely(self, url: str) -> None:
        """One feed; its failure is reported and retried next round, never the others' business."""
        if time.monotonic() < self.not_before.get(url, 0.0):
            return
        try:
            await self.poll(url)
            self.failing.pop(url, None)
        except (httpx.HTTPError, OSError) as exc:
            self.failing[url] = f"{type(exc).__name__}: {exc}"[:200]
            log.warning("rss: %s failed (%s): trying again in %.0f s", url, exc, self.poll_s)

    async def poll(self, url: str) -> None:
        saved = await self.producer.writer.cursor(f"{LABEL}:{url}")
        validators: dict[str, str] = json.loads(saved) if saved else {}
        headers = {}
        if "etag" in validators:
            headers["If-None-Match"] = validators["etag"]
        if "modified" in validators:
            headers["If-Modified-Since"] = validators["modified"]
        response = await self.client.get(url, headers=headers)
        if response.status_code == 304:
            return
        if response.status_code in (429, 503):
            wait = _retry_after(response.headers.get("Retry-After"), self.poll_s)
            self.not_before[url] = time.monotonic() + wait
            raise httpx.HTTPStatusError(
                f"{response.status_code}: asked to wait {wait:.0f} s",
                request=response.request,
                response=response,
            )
        response.raise_for_status()
        fetched = utcnow()
        try:
            parsed = fastfeedparser.parse(response.content)
        except Exception as exc:  # noqa: BLE001 - any parser failure is the feed's: counted, never fatal
            self.outlet.event()
            self.outlet.skip("malformed", f"{url}: {type(exc).__name__}: {exc}")
            return
        feed = parsed.get("feed") or {}
        title = str(feed.get("title") or urlsplit(url).hostname or url)
        declared = feed.get("language") if isinstance(feed.get("language"), str) else None
        entries = [entry for entry in parsed.get("entries") or [] if isinstance(entry, dict)]
        ids = [entry_id(url, entry) for entry in entries]
        known = await self.producer.client.zmscore(self.seen, [i for i in ids if i]) if any(ids) else []
        known_ids = {i for i, score in zip([i for i in ids if i], known, strict=True) if score is not None}
        new = []
        for entry, post_id in zip(entries, ids, strict=True):
            if post_id in known_ids:
                continue
            self.outlet.event(_when(entry))
            if post_id is None:
                self.outlet.skip("malformed", f"{url}: an entry with neither guid nor link")
                continue
            author = str(entry.get("author") or "").strip() or title
            link = entry.get("link") if isinstance(entry.get("link"), str) else None
            self.outlet.post(post_id, _text(entry), author, _when(entry) or fetched, link, declared)
            new.append(post_id)
        kept = {
            k: v
            for k, v in (
                ("etag", response.headers.get("ETag")),
                ("modified", response.headers.get("Last-Modified")),
            )
            if v
        }
        self.producer.advance(f"{LABEL}:{url}", json.dumps(kept))
        await self.producer.flush()
        if new:
            await self.producer.client.zadd(self.seen, dict.fromkeys(new, fetched.timestamp()))


def _retry_after(value: str | None, default: float) -> float:
    if not value:
        return default
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    with contextlib.suppress(TypeError, ValueError):
        return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
    return default


async def run(settings: Settings, args: argparse.Namespace, stop: asyncio.Event) -> Producer:
    del args
    if not settings.rss_feeds:
        raise SourceError("RSS_FEEDS is empty: set it to the comma-separated feed URLs to read")
    return await Feeds.serve(LABEL, settings, stop)


SOURCE = Source(LABEL, "the entries of the RSS and Atom feeds in RSS_FEEDS", settings_only, run)
