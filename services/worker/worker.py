"""The worker: XREADGROUP a batch -> one batched inference call -> one transaction -> publish -> XACK.

Delivery (ARCHITECTURE.md): at-least-once from the stream, effectively-once in the database. A batch is
acknowledged only after its rows are committed; rows are idempotent on ``post_id``, so a redelivered post
never makes a second row (its event is published again from the stored row: events are at-least-once).

Failures are of two kinds:

- an outage (Triton, PostgreSQL or Redis not answering): the batch in hand is retried with backoff until
  the dependency answers, so the worker stops reading and dead-letters nothing; the health check says so;
- a post's own fault: a message that breaks the schema, or a ``post_id`` already stored with different
  content, is dead-lettered at once with its reason. Anything else that fails a batch splits it: each post
  is retried alone, and one that fails ``WORKER_MAX_FAILURES`` times goes to the dead-letter stream. The
  count is kept in Redis and taken before each lone attempt, so a post that crashes the worker is counted
  too.

With an LLM provider configured (``LLM_PROVIDER``), Triton's outage is not a pause: after
``TRITON_BREAKER_FAILURES`` failed calls in a row the breaker opens and batches are classified by the
provider, with Triton tried again every ``TRITON_PROBE_S``; the provider's own outage is an outage like any
other. Posts under ``LLM_REVIEW_BELOW`` confidence may get the provider's second opinion, within
``LLM_REVIEW_PER_MIN`` requests a minute; when it answers, its labels are the post's one analysis.

Posts left pending by a consumer that died are taken over (XAUTOCLAIM) after ``WORKER_CLAIM_IDLE_S``, and a
restarted worker first handles what its own name left pending. Taken-over posts are handled one at a time.
"""

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import redis.asyncio as aioredis
import redis.exceptions
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential

from services.common.db.engine import create_engine, session_factory
from services.common.events import PostData, PostEvent, encode_event
from services.common.inference.client import AsyncClassifier, InferenceUnavailable, Prediction, chunks
from services.common.llm import BudgetSpent, LlmClassifier, LlmInvalidAnswer, LlmUnavailable, MinuteBudget
from services.common.messages import MessageError, PostMessage
from services.common.names import RedisNames
from services.common.settings import Settings
from services.worker.breaker import Breaker
from services.worker.store import Stored, event_of, stored, write

log = logging.getLogger("worker")
T = TypeVar("T")
DEAD_LETTER_MAX = 100_000  # the dead-letter stream keeps about this many entries
TRIM_EVERY_S = 2.0


def is_outage(exc: BaseException) -> bool:
    """A dependency that does not answer, as opposed to a post that cannot be processed."""
    if isinstance(exc, InferenceUnavailable | LlmUnavailable | OSError | TimeoutError):
        return True
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return True
    if isinstance(exc, redis.exceptions.BusyLoadingError | redis.exceptions.TryAgainError):
        return True
    # Connection lost, server shutting down or starting, missing table: not the data's fault.
    return isinstance(exc, DBAPIError) and not isinstance(exc, IntegrityError | DataError)


@dataclass(frozen=True)
class Entry:
    """One stream entry as read: its id and its raw fields."""

    id: str
    fields: dict[bytes, bytes]

    @property
    def ingested_at(self) -> datetime:
        """When XADD stored it: the milliseconds of its id."""
        return datetime.fromtimestamp(int(self.id.split("-")[0]) / 1000, UTC)


def entries(raw: Sequence[Any]) -> list[Entry]:
    out = []
    for entry_id, fields in raw:
        if fields is None:  # deleted while pending
            continue
        out.append(Entry(entry_id.decode() if isinstance(entry_id, bytes) else entry_id, dict(fields)))
    return out


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.processed = Counter(
            "worker_posts_processed", "Posts stored (or found stored) and acknowledged", registry=r
        )
        self.failed = Counter(
            "worker_posts_failed", "Lone attempts at a post that failed on its own account", registry=r
        )
        self.dead_lettered = Counter(
            "worker_posts_dead_lettered", "Posts moved to the dead-letter stream", registry=r
        )
        self.batch_seconds = Histogram(
            "worker_batch_seconds", "From read to acknowledgement, per batch", registry=r
        )
        self.inference_seconds = Histogram(
            "worker_inference_seconds", "One batched inference call", registry=r
        )
        self.lag = Gauge(
            "worker_consumer_lag", "Entries in the stream not yet delivered to the group", registry=r
        )
        self.pending = Gauge(
            "worker_pending", "Entries delivered to the group and not yet acknowledged", registry=r
        )
        self.paused = Gauge(
            "worker_paused", "1 while a dependency is down and reading has stopped", registry=r
        )
        self.breaker_open = Gauge(
            "worker_triton_breaker_open", "1 while Triton is down and the LLM provider classifies", registry=r
        )
        self.by_provider = Counter(
            "worker_posts_by_llm", "Posts classified by the LLM provider while Triton was down", registry=r
        )
        self.reviews = Counter(
            "worker_second_opinions",
            "Low-confidence posts sent for the provider's opinion, by outcome",
            ["outcome"],
            registry=r,
        )


class Worker:
    def __init__(self, settings: Settings, *, consumer: str | None = None) -> None:
        self.settings = settings
        self.names = RedisNames(settings.redis_key_prefix)
        self.consumer = consumer or settings.worker_consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.redis = aioredis.Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=5)
        self.engine = create_engine(settings.database_url, pool_size=settings.worker_concurrency)
        self.sessions = session_factory(self.engine)
        self.classifier = AsyncClassifier(
            settings.triton_url,
            settings.model_repository,
            timeout_s=settings.triton_timeout_s,
            request_size=settings.triton_request_size,
        )
        self.metrics = Metrics()
        self.llm: LlmClassifier | None = None
        if settings.llm_provider != "none":
            self.llm = LlmClassifier(settings, self.redis, self.metrics.registry)
        self.breaker = Breaker(settings.triton_breaker_failures, settings.triton_probe_s)
        self.review_budget = MinuteBudget(self.redis, self.names.llm_reviews, settings.llm_review_per_min)
        self.stopping = asyncio.Event()
        self.paused_by: str | None = None  # what the worker is waiting for, while it waits
        self._holding: set[str] = set()  # ids of the entries in flight here, never taken over from itself

    # --- running ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Finish the batches in flight, acknowledge them, and return from ``run``."""
        log.info("stopping: finishing the batches in flight")
        self.stopping.set()

    async def run(self) -> None:
        server = self._http_server()
        serving = asyncio.create_task(server.serve()) if server else None
        try:
            await self._retrying(self._ensure_group)
            await self._own_pending()
            tasks = [
                asyncio.create_task(self._read_loop()),
                asyncio.create_task(self._reclaim_loop()),
                asyncio.create_task(self._trim_loop()),
            ]
            await asyncio.gather(*tasks)
        except _Stopped:
            pass
        finally:
            if server and serving:
                server.should_exit = True
                await serving
            await self.close()

    async def close(self) -> None:
        await self.classifier.close()
        if self.llm:
            await self.llm.close()
        await self.redis.aclose()
        await self.engine.dispose()

    async def _ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.names.stream, self.names.group, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read_loop(self) -> None:
        """One reader: it reads a batch, hands it over, and reads the next while that one is handled, with
        at most WORKER_CONCURRENCY batches in flight. A batch that comes short waits WORKER_LINGER_MS for
        more posts: at a slow feed, fewer and fuller batches (each costs two transactions and a few calls)."""
        slots = asyncio.Semaphore(self.settings.worker_concurrency)
        # The group waits for the batches in flight at the end; a crash in one stops them all.
        async with asyncio.TaskGroup() as handling:
            while not self.stopping.is_set():
                await slots.acquire()
                try:
                    batch = await self._read_batch()
                except _Stopped:
                    break
                if batch:
                    handling.create_task(self._handle_in(batch, slots))
                else:
                    slots.release()

    async def _read_batch(self) -> list[Entry]:
        size, linger = self.settings.worker_batch_size, self.settings.worker_linger_ms / 1000
        batch = await self._retrying(self._read)
        if batch and len(batch) < size and linger and not await self._sleep(linger):
            batch += await self._retrying(partial(self._read, count=size - len(batch), block=False))
        return batch

    async def _handle_in(self, batch: list[Entry], slots: asyncio.Semaphore) -> None:
        try:
            await self.handle(batch)
        except _Stopped:
            pass  # the batch stays pending, for this consumer's next start or another's takeover
        finally:
            slots.release()

    async def _read(self, start: str = ">", count: int | None = None, *, block: bool = True) -> list[Entry]:
        """New entries (``>``, waiting up to WORKER_BLOCK_MS unless told not to wait), or this consumer's
        pending ones after ``start``; at most ``count`` (WORKER_BATCH_SIZE)."""
        reply: Any = await self.redis.xreadgroup(
            self.names.group,
            self.consumer,
            {self.names.stream: start},
            count=count or self.settings.worker_batch_size,
            block=self.settings.worker_block_ms if start == ">" and block else None,
        )
        return entries(reply[0][1]) if reply else []

    async def _own_pending(self) -> None:
        """What this consumer name left pending before a restart: handled one post at a time."""
        start = "0"
        while not self.stopping.is_set():
            batch = await self._retrying(partial(self._read, start))
            if not batch:
                return
            log.info("handling %d posts this consumer left pending", len(batch))
            for entry in batch:
                await self.handle_alone(entry)
            start = batch[-1].id

    async def _reclaim_loop(self) -> None:
        idle_ms = int(self.settings.worker_claim_idle_s * 1000)
        while not await self._sleep(min(self.settings.worker_claim_idle_s / 2, 5.0)):
            if self.paused_by:
                continue  # an outage holds everyone's batches: nothing is dead
            start = "0-0"
            while not self.stopping.is_set():
                try:
                    reply = await self._retrying(partial(self._claim, start, idle_ms))
                except _Stopped:
                    return
                claimed = [e for e in entries(reply[1]) if e.id not in self._holding]
                if claimed:
                    log.warning("took over %d posts left pending by another consumer", len(claimed))
                for entry in claimed:
                    await self.handle_alone(entry)
                start = reply[0].decode() if isinstance(reply[0], bytes) else reply[0]
                if start == "0-0":
                    break

    async def _claim(self, start: str, idle_ms: int) -> Any:
        return await self.redis.xautoclaim(
            self.names.stream,
            self.names.group,
            self.consumer,
            min_idle_time=idle_ms,
            start_id=start,
            count=self.settings.worker_batch_size,
        )

    async def _trim_loop(self) -> None:
        """Keep the stream bounded: trim below the oldest entry still pending or not yet delivered."""
        while not await self._sleep(TRIM_EVERY_S):
            try:
                await self.trim()
            except Exception as exc:
                if is_outage(exc):
                    log.debug("trim skipped: %s", exc)
                else:  # housekeeping: never worth stopping the worker for
                    log.exception("trim failed")

    async def trim(self) -> None:
        groups = await self.redis.xinfo_groups(self.names.stream)
        ours = next((g for g in groups if g["name"].decode() == self.names.group), None)
        if ours is None:
            return
        summary = await self.redis.xpending(self.names.stream, self.names.group)
        self.metrics.pending.set(summary["pending"])
        self.metrics.lag.set(ours.get("lag") or 0)
        oldest = summary["min"] if summary["pending"] else ours["last-delivered-id"]
        if oldest and oldest != b"0-0":
            await self.redis.xtrim(self.names.stream, minid=oldest, approximate=False)

    async def _sleep(self, seconds: float) -> bool:
        """Sleep, or return True at once when stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)
        return self.stopping.is_set()

    # --- one batch -------------------------------------------------------------------------------

    async def handle(self, batch: list[Entry]) -> None:
        """Process a batch; if it fails on a post's account, retry each post alone."""
        started = time.perf_counter()
        with self._hold(batch):
            try:
                await self._retrying(lambda: self.process(batch))
            except _Stopped:
                raise
            except Exception:
                log.exception("a batch of %d failed: retrying each post alone", len(batch))
                for entry in batch:
                    await self.handle_alone(entry)
        self.metrics.batch_seconds.observe(time.perf_counter() - started)

    @contextlib.contextmanager
    def _hold(self, batch: list[Entry]) -> Iterator[None]:
        ids = {entry.id for entry in batch}
        self._holding |= ids
        try:
            yield
        finally:
            self._holding -= ids

    async def handle_alone(self, entry: Entry) -> None:
        """One post, counted: its attempts survive a crash, and the Nth failure dead-letters it."""
        with self._hold([entry]):
            await self._alone(entry)

    async def _alone(self, entry: Entry) -> None:
        failures, reason_key = self.names.failures, f"{entry.id}:reason"
        count = int(await self._retrying(lambda: self.redis.hincrby(failures, entry.id, 1)))
        if count > self.settings.worker_max_failures:
            reason: Any = await self._retrying(lambda: self.redis.hget(failures, reason_key))
            text = reason.decode() if reason else "its processing stopped the worker"
            await self._retrying(
                lambda: self._finish([], [(entry, f"failed {count - 1} times: {text}")], [entry])
            )
            return
        try:
            await self._retrying(lambda: self.process([entry]))
        except _Stopped:
            with contextlib.suppress(redis.exceptions.RedisError, OSError):  # Redis may be the outage
                await self.redis.hincrby(failures, entry.id, -1)  # not its fault: undo the count
            raise
        except Exception as exc:  # noqa: BLE001 (whatever fails a lone post counts against it)
            self.metrics.failed.inc()
            reason = f"{type(exc).__name__}: {exc}"[:1000]
            log.warning(
                "post %s failed (%d of %d): %s", entry.id, count, self.settings.worker_max_failures, reason
            )
            if count >= self.settings.worker_max_failures:
                await self._retrying(
                    lambda: self._finish([], [(entry, f"failed {count} times: {reason}")], [entry])
                )
            else:
                await self._retrying(lambda: self.redis.hset(failures, reason_key, reason))
            # else it stays pending, and is taken over again after WORKER_CLAIM_IDLE_S

    async def process(self, batch: list[Entry]) -> None:
        """Validate, classify the new posts in one call, store them in one transaction, publish, ack."""
        dead: list[tuple[Entry, str]] = []
        valid: list[tuple[Entry, PostMessage]] = []
        for entry in batch:
            try:
                valid.append((entry, PostMessage.from_stream(entry.fields)))
            except MessageError as exc:
                dead.append((entry, str(exc)))

        async with self.sessions() as session:
            known = await stored(session, list({post.post_id for _, post in valid}))
        new: dict[str, tuple[Entry, PostMessage]] = {}
        for entry, post in valid:
            if post.post_id not in known:
                new.setdefault(post.post_id, (entry, post))  # the first of repeats within the batch
        if new:
            labelled = await self.classify([post.content for _, post in new.values()])
            now = datetime.now(UTC)
            rows = [
                (post, entry.ingested_at, event_of(post, prediction, model_name, now))
                for (entry, post), (prediction, model_name) in zip(new.values(), labelled, strict=True)
            ]
            async with self.sessions() as session:
                inserted = await write(session, rows)
                known |= {
                    event.post_id: Stored(post.content, event)
                    for post, _, event in rows
                    if post.post_id in inserted
                }
                if len(inserted) < len(rows):  # another worker stored some between our read and our write
                    known |= await stored(session, [pid for pid in new if pid not in inserted])

        # Each post's event is the stored row's, whoever stored it; a post_id stored with other content is refused.
        events: dict[str, PostData] = {}
        for entry, post in valid:
            if post.post_id in known and known[post.post_id].content == post.content:
                events[post.post_id] = known[post.post_id].event
            else:
                dead.append((entry, f"post_id {post.post_id!r} is already stored with different content"))
        await self._finish(list(events.values()), dead, batch)

    async def classify(self, texts: list[str]) -> list[tuple[Prediction, str]]:
        """Each text's prediction and the model that made it: Triton's, or the provider's while the breaker
        is open (or as a second opinion)."""
        if self.llm is None or self.breaker.try_triton():
            started = time.perf_counter()
            try:
                result = await self.classifier.classify(texts)
            except InferenceUnavailable as exc:
                if self.llm is None or not self._triton_failed(exc):
                    raise  # retried with backoff: a pause
            else:
                self.metrics.inference_seconds.observe(time.perf_counter() - started)
                if self.llm is not None and self.breaker.succeeded():
                    log.warning("Triton answers again: classifying with it, not %s", self.llm.model_name)
                    self.metrics.breaker_open.set(0)
                labelled = [(p, result.model_name) for p in result.predictions]
                return await self._second_opinions(texts, labelled)
        assert self.llm is not None
        result = await self.llm.classify(texts)
        self.metrics.by_provider.inc(len(texts))
        return [(p, result.model_name) for p in result.predictions]

    def _triton_failed(self, exc: InferenceUnavailable) -> bool:
        """Count a Triton outage; True when the breaker is (now) open and the provider takes over."""
        if self.breaker.failed():
            assert self.llm is not None
            log.warning("Triton is down (%s): classifying with %s", exc, self.llm.model_name)
            self.metrics.breaker_open.set(1)
        return self.breaker.open

    async def _second_opinions(
        self, texts: list[str], labelled: list[tuple[Prediction, str]]
    ) -> list[tuple[Prediction, str]]:
        """The provider's labels for the posts under LLM_REVIEW_BELOW confidence, as far as the budget goes;
        a post it cannot answer for keeps the model's labels."""
        if self.llm is None or self.settings.llm_review_below <= 0:
            return labelled
        low = [
            i for i, (p, _) in enumerate(labelled) if p.sentiment_confidence < self.settings.llm_review_below
        ]
        for part in chunks(low, self.llm.batch_size):
            try:
                review = await self.llm.classify([texts[i] for i in part], budget=self.review_budget)
            except BudgetSpent:
                self.metrics.reviews.labels("over_budget").inc(len(low) - low.index(part[0]))
                break
            except (LlmUnavailable, LlmInvalidAnswer) as exc:
                log.warning("no second opinion for %d posts: %s", len(part), exc)
                self.metrics.reviews.labels("failed").inc(len(part))
                continue
            for i, prediction in zip(part, review.predictions, strict=True):
                labelled[i] = (prediction, review.model_name)
            self.metrics.reviews.labels("answered").inc(len(part))
        return labelled

    async def _finish(
        self, events: list[PostData], dead: list[tuple[Entry, str]], batch: list[Entry]
    ) -> None:
        """Publish, dead-letter and acknowledge in one Redis transaction."""
        now = datetime.now(UTC).isoformat()
        pipe = self.redis.pipeline(transaction=True)
        for event in events:
            pipe.publish(self.names.channel, encode_event(PostEvent(data=event)))
        for entry, reason in dead:
            fields: dict[Any, Any] = {
                **entry.fields,
                b"dead_letter_reason": reason,
                b"dead_letter_entry_id": entry.id,
                b"dead_letter_at": now,
                b"dead_letter_consumer": self.consumer,
            }
            pipe.xadd(self.names.dead_letter_stream, fields, maxlen=DEAD_LETTER_MAX, approximate=True)
        ids = [entry.id for entry in batch]
        pipe.xack(self.names.stream, self.names.group, *ids)
        pipe.hdel(self.names.failures, *ids, *(f"{i}:reason" for i in ids))
        await pipe.execute()
        for entry, reason in dead:
            log.warning("dead-lettered %s: %s", entry.id, reason)
        self.metrics.dead_lettered.inc(len(dead))
        self.metrics.processed.inc(len(batch) - len(dead))

    # --- outages ---------------------------------------------------------------------------------

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``, retried with backoff while a dependency is down; raises _Stopped when stopping."""

        retried = (
            False  # only a call that waited out an outage ends the pause (other calls may succeed meanwhile)
        )

        def paused(state: RetryCallState) -> None:
            nonlocal retried
            retried = True
            exc = state.outcome.exception() if state.outcome else None
            reason = f"{type(exc).__name__}: {exc}"[:300]
            if self.paused_by is None:
                log.warning("paused, a dependency is down: %s", reason)
            self.paused_by = reason
            self.metrics.paused.set(1)

        def stop(state: RetryCallState) -> bool:
            return self.stopping.is_set()

        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(is_outage),
                wait=wait_exponential(multiplier=0.1, max=5.0),
                stop=stop,
                before_sleep=paused,
                reraise=True,
            ):
                with attempt:
                    try:
                        result = await call()
                    except Exception as exc:
                        if is_outage(exc) and self.stopping.is_set():
                            raise _Stopped from exc
                        raise
        except Exception as exc:
            if retried and not is_outage(exc) and not isinstance(exc, _Stopped):
                self._resumed()  # the dependency answered, though the call failed on the post's account
            raise
        if retried:
            self._resumed()
        return result

    def _resumed(self) -> None:
        if self.paused_by is not None:
            log.info("resumed")
            self.paused_by = None
            self.metrics.paused.set(0)

    # --- /metrics and /health ----------------------------------------------------------------------

    def app(self) -> FastAPI:
        app = FastAPI(title="worker", docs_url=None, redoc_url=None, openapi_url=None)

        @app.get("/metrics")
        def metrics() -> Response:
            return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)

        @app.get("/health")
        def health() -> JSONResponse:
            status = "stopping" if self.stopping.is_set() else "paused" if self.paused_by else "ok"
            body = {
                "status": status,
                "consumer": self.consumer,
                "waiting_for": self.paused_by,
                "classifier": self.llm.model_name if self.llm and self.breaker.open else "triton",
            }
            return JSONResponse(body, status_code=503 if status == "stopping" else 200)

        return app

    def _http_server(self) -> uvicorn.Server | None:
        if not self.settings.worker_metrics_port:
            return None
        config = uvicorn.Config(
            self.app(),
            host=self.settings.worker_metrics_host,
            port=self.settings.worker_metrics_port,
            log_level="warning",
        )
        return _QuietServer(config)


class _Stopped(Exception):
    """Raised out of a retry loop when the worker is stopping."""


class _QuietServer(uvicorn.Server):
    """uvicorn inside the worker's loop: the worker, not uvicorn, handles SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
