"""What every live source shares (docs/sources.md): an ``Outlet`` that turns what a source says into stream
messages by the same rules for all (ids, times, links, text, language), counts what it skips and why, and
reports the source's state to Prometheus and to /api/health; ``Poller``, a source that asks its servers
every few seconds; and HTML made text. Keeping a source connected is services/ingester/connection.py."""

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import time
from collections import Counter as Tally
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
from bs4 import BeautifulSoup
from prometheus_client import CollectorRegistry, Counter, Gauge

from services.common.messages import (
    AUTHOR_MAX_CHARS,
    CONTENT_MAX_CHARS,
    CREATED_AT_MAX_AHEAD,
    POST_ID_MAX_CHARS,
    URL_MAX_CHARS,
    DeleteMessage,
    MessageError,
    PostMessage,
    checked_link,
)
from services.common.metrics_server import http_server
from services.common.settings import Settings
from services.common.sources import REPORT_EVERY_S, SourceState, SourceStatus
from services.common.timestamps import utcnow
from services.ingester.language import Languages
from services.ingester.producer import Producer

log = logging.getLogger("ingester")
USER_AGENT = "sentiment-platform (self-hosted social listening)"


def post_id(native: str) -> str:
    """The source's own id as the platform's post_id; one over 128 characters is hashed (sha256:...)."""
    if len(native) <= POST_ID_MAX_CHARS:
        return native
    return "sha256:" + hashlib.sha256(native.encode()).hexdigest()


class SourceMetrics:
    """The ingester's metrics, labelled by source."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry()
        self.events = Counter("ingest_events", "Events received from the source", ["source"], registry=r)
        self.posts = Counter("ingest_posts_sent", "Posts sent onto the stream", ["source"], registry=r)
        self.deletes = Counter("ingest_deletes_sent", "Deletes sent onto the stream", ["source"], registry=r)
        self.skipped = Counter(
            "ingest_skipped", "Events not sent, by reason", ["source", "reason"], registry=r
        )
        self.languages = Counter(
            "ingest_skipped_language",
            "Posts skipped for a language outside INGEST_LANGUAGES",
            ["source", "lang"],
            registry=r,
        )
        self.reconnects = Counter(
            "ingest_reconnects", "Connections lost and made again", ["source"], registry=r
        )
        self.behind = Gauge(
            "ingest_behind_seconds", "How far behind live the last event read is", ["source"], registry=r
        )
        self.missed = Counter(
            "ingest_missed_seconds",
            "Seconds of posts the source could no longer replay (a cursor older than its window)",
            ["source"],
            registry=r,
        )


class Outlet:
    """One source's way onto the stream."""

    def __init__(
        self,
        source: str,
        producer: Producer,
        languages: Languages,
        metrics: SourceMetrics,
        retention_days: int,
    ) -> None:
        self.source = source
        self.producer = producer
        self.languages = languages
        self.metrics = metrics
        self.retention_days = retention_days
        self.state: SourceState = "connecting"
        self.detail = ""
        self.endpoint = ""
        self.counts: Tally[str] = Tally()
        self.skips: Tally[str] = Tally()
        self.behind_s: float | None = None
        self.missed_s = 0.0
        self._reported = 0.0

    @classmethod
    def for_settings(cls, source: str, settings: Settings) -> "Outlet":
        """``source``'s outlet as its sub-command makes it: a producer of its own on REDIS_URL, the languages
        analysed, its metrics."""
        return cls(
            source,
            Producer.for_settings(settings, 0),
            Languages.for_settings(settings),
            SourceMetrics(),
            settings.retention_days,
        )

    # --- what a source says -------------------------------------------------------------------------

    def event(self, at: datetime | None = None) -> None:
        """One event received (whatever it turns out to be); ``at``: when the source says it happened."""
        self.counts["events"] += 1
        self.metrics.events.labels(self.source).inc()
        if at is not None:
            self.behind_s = max(0.0, (utcnow() - at).total_seconds())
            self.metrics.behind.labels(self.source).set(self.behind_s)

    def skip(self, reason: str, detail: object = None) -> None:
        """An event not sent; ``detail`` (a malformed event's problem) is logged."""
        self.skips[reason] += 1
        self.metrics.skipped.labels(self.source, reason).inc()
        if detail is not None:
            log.warning("%s: skipped an event (%s): %s", self.source, reason, str(detail)[:300])

    def post(
        self,
        native_id: str,
        text: str,
        author: str,
        created_at: datetime | None,
        url: str | None,
        lang: str | None = None,
    ) -> bool:
        """Queue one post, by the rules every source follows; False when it was skipped (and counted). What
        is queued goes out with the source's next ``producer.flush``."""
        text = text.strip()
        if not text:
            self.skip("no text")  # an image-only post, HTML that reduces to nothing
            return False
        language = self.languages.of(text, lang)
        if not self.languages.analysed(language):
            self.skip("language")
            self.metrics.languages.labels(self.source, language).inc()
            return False
        fields = {
            "post_id": post_id(native_id),
            "source": self.source,
            "content": text[:CONTENT_MAX_CHARS],  # a full-text entry is cut, not skipped
            "author": (author.strip() or "unknown")[:AUTHOR_MAX_CHARS],
            "created_at": self.when(created_at).isoformat(),
            "lang": language,
        }
        link = self.link(url)
        if link is not None:
            fields["url"] = link
        try:
            message = PostMessage.parse(fields, self.retention_days)
        except MessageError as exc:
            self.skip("invalid", exc)
            return False
        self.producer.queue(message)
        self.counts["posts"] += 1
        self.metrics.posts.labels(self.source).inc()
        return True

    def delete(self, native_id: str, deleted_at: datetime | None = None) -> None:
        """Queue the delete of a post the source says was deleted."""
        message = DeleteMessage(
            post_id=post_id(native_id), source=self.source, deleted_at=deleted_at or utcnow()
        )
        self.producer.queue(message)
        self.counts["deletes"] += 1
        self.metrics.deletes.labels(self.source).inc()

    def when(self, created_at: datetime | None) -> datetime:
        """The post's time, or the arrival time for one in the future or older than the days kept."""
        now = utcnow()
        if created_at is None or created_at.tzinfo is None:
            return now
        if created_at > now + CREATED_AT_MAX_AHEAD or created_at < now - timedelta(days=self.retention_days):
            return now
        return created_at

    @staticmethod
    def link(url: str | None) -> str | None:
        """An http(s) link, or None (a post without one is still a post)."""
        if not url or len(url) > URL_MAX_CHARS:
            return None
        try:
            return checked_link(url)
        except ValueError:
            return None

    # --- the source's state ---------------------------------------------------------------------------

    def set_state(self, state: SourceState, detail: str = "", endpoint: str | None = None) -> None:
        self.state, self.detail = state, detail
        if endpoint is not None:
            self.endpoint = endpoint

    def reconnected(self, why: str) -> None:
        self.counts["reconnects"] += 1
        self.metrics.reconnects.labels(self.source).inc()
        self.set_state("reconnecting", why)

    def missed(self, seconds: float) -> None:
        """The source resumed later than asked: that much of its posts will never be read."""
        self.missed_s += seconds
        self.metrics.missed.labels(self.source).inc(seconds)
        log.warning(
            "%s: the server resumed %.0f s after the cursor asked for (older than what it keeps): "
            "those posts are missed",
            self.source,
            seconds,
        )

    def status(self) -> SourceStatus:
        return SourceStatus(
            source=self.source,
            state=self.state,
            detail=self.detail,
            endpoint=self.endpoint,
            updated_at=utcnow(),
            events=self.counts["events"],
            posts=self.counts["posts"],
            deletes=self.counts["deletes"],
            skipped=dict(self.skips),
            reconnects=self.counts["reconnects"],
            behind_s=self.behind_s,
            missed_s=self.missed_s,
        )

    async def report(self, force: bool = False) -> None:
        """Write the status for /api/health, at most every REPORT_EVERY_S unless ``force``."""
        now = time.monotonic()
        if not force and now - self._reported < REPORT_EVERY_S:
            return
        self._reported = now
        names = self.producer.writer.names
        try:
            await self.producer.client.hset(names.source_status, self.source, self.status().model_dump_json())
        except Exception as exc:  # noqa: BLE001 - Redis away: the next report tries again
            log.debug("could not report the status of %s: %s", self.source, exc)

    async def reporting(self, stop: asyncio.Event) -> None:
        """Report every REPORT_EVERY_S until ``stop``, then once more."""
        while not stop.is_set():
            await self.report(force=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), REPORT_EVERY_S)
        self.set_state("stopped")
        await self.report(force=True)

    @contextlib.asynccontextmanager
    async def serving(self, metrics_port: int, stop: asyncio.Event) -> AsyncIterator[None]:
        """While the block runs: the status reported, and /metrics and /health on 127.0.0.1:metrics_port."""
        server = http_server("127.0.0.1", metrics_port, self.metrics.registry, self.health)
        serving = asyncio.create_task(server.serve()) if server else None
        reporting = asyncio.create_task(self.reporting(stop))
        try:
            yield
        finally:
            stop.set()
            await reporting
            if server and serving:
                server.should_exit = True
                await serving

    def health(self) -> tuple[dict[str, Any], int]:
        status = self.status()
        return status.model_dump(mode="json"), 200 if status.state == "live" else 503


class Poller:
    """A source that asks its servers every ``poll_s``: ``round()`` once a round until ``stop``, its state
    reported after each (``detail()`` says what failed in it). ``setup`` reads the source's own settings."""

    poll_s: float

    def __init__(
        self,
        settings: Settings,
        producer: Producer,
        outlet: Outlet,
        stop: asyncio.Event,
        client: httpx.AsyncClient,
    ) -> None:
        self.producer = producer
        self.outlet = outlet
        self.stop = stop
        self.client = client
        self.setup(settings)

    def setup(self, settings: Settings) -> None:
        raise NotImplementedError

    async def run(self) -> None:
        raise NotImplementedError

    @classmethod
    async def serve(cls, label: str, settings: Settings, stop: asyncio.Event) -> Producer:
        """The source as its sub-command runs it, until ``stop``: its own producer, its /metrics and status,
        one HTTP client (with a User-Agent that says who asks)."""
        outlet = Outlet.for_settings(label, settings)
        async with (
            httpx.AsyncClient(
                timeout=30, headers={"User-Agent": USER_AGENT}, follow_redirects=True
            ) as client,
            outlet.serving(settings.ingest_metrics_port, stop),
        ):
            await cls(settings, outlet.producer, outlet, stop, client).run()
        return outlet.producer

    async def round(self) -> None:
        raise NotImplementedError

    def state(self) -> SourceState:
        return "live"

    def detail(self) -> str:
        return ""

    async def rounds(self) -> None:
        while not self.stop.is_set():
            await self.round()
            self.outlet.set_state(self.state(), self.detail())
            await self.outlet.report(force=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), self.poll_s)


def text_of_html(html: str) -> str:
    """HTML as a reader sees it: tags gone, entities decoded, paragraphs and line breaks kept as breaks
    (BeautifulSoup with the standard library's parser: it copes with the unclosed <p> of Hacker News and the
    markup of any feed)."""
    soup = BeautifulSoup(html, "html.parser")
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for paragraph in soup.find_all("p"):
        paragraph.insert_before("\n\n")
    lines = (" ".join(line.split()) for line in soup.get_text().splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def short(value: object) -> str:
    """A value for a log line: its JSON, cut."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text[:200]
