"""The worker: read a batch, classify it in one call, store it in one transaction, publish, acknowledge.

What a batch goes through, and what an outage or a bad post does to it, is in docs/pipeline.md.
"""

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

from services.common.db.engine import create_engine, session_factory
from services.common.inference.fallback import FallbackClassifier
from services.common.messages import DeleteMessage
from services.common.metrics_server import http_server
from services.common.names import RedisNames
from services.common.redis import redis_client
from services.common.settings import Settings
from services.worker import alone, dead_letters
from services.worker.batch import Valid, analysed, events_for, first_unknown, validate
from services.worker.dead_letters import Failures
from services.worker.metrics import Metrics
from services.worker.outage import Pauser, Stopped, is_outage
from services.worker.settle import settle as settle_batch
from services.worker.store import StoredPost, delete, stored, write_or_find
from services.worker.stream import Entry, WorkStream
from services.worker.tagging import keep_backfilling

log = logging.getLogger("worker")
TRIM_EVERY_S = 2.0


class Worker:
    def __init__(self, settings: Settings, *, consumer: str | None = None) -> None:
        self.settings = settings
        self.names = RedisNames(settings.redis_key_prefix)
        self.consumer = consumer or settings.worker_consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.redis = redis_client(settings, "pipeline")
        self.stream = WorkStream(
            self.redis, self.names, self.consumer, settings.worker_batch_size, settings.worker_block_ms
        )
        self.failures = Failures(self.redis, self.names)
        self.engine = create_engine(
            settings.database_url,
            pool_size=settings.worker_concurrency,
            command_timeout_s=settings.worker_db_timeout_s,
        )
        self.sessions = session_factory(self.engine)
        self.metrics = Metrics()
        self.classifier = FallbackClassifier.from_settings(settings, self.redis, self.metrics.registry)
        self.stopping = asyncio.Event()
        self.outage = Pauser(
            self.stopping,
            self.metrics.paused,
            settings.worker_systemic_failures,
            settings.worker_retry_max_s,
        )
        self._retrying = self.outage.retrying
        self._holding: set[str] = set()  # ids of the entries in flight here, never taken over from itself

    @property
    def paused_by(self) -> str | None:
        """What the worker is waiting for, while a dependency is down."""
        return self.outage.paused_by

    # --- running ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Finish the batches in flight, acknowledge them, and return from ``run``."""
        log.info("stopping: finishing the batches in flight")
        self.stopping.set()

    async def run(self) -> None:
        server = http_server(
            self.settings.worker_metrics_host,
            self.settings.worker_metrics_port,
            self.metrics.registry,
            self.health,
        )
        serving = asyncio.create_task(server.serve()) if server else None
        try:
            await self._retrying(self.stream.ensure_group)
            moved = await self._retrying(
                lambda: dead_letters.adopt_old_stream(self.sessions, self.redis, self.names)
            )
            if moved:
                log.info("moved %d dead letters from the Redis stream into PostgreSQL", moved)
            await self._own_pending()
            await asyncio.gather(
                self._read_loop(),
                self._reclaim_loop(),
                self._trim_loop(),
                keep_backfilling(self.engine, self._sleep, self.metrics.backfilled),
            )
        except Stopped:
            pass
        finally:
            if self.stopping.is_set():
                await self._leave()
            if server and serving:
                server.should_exit = True
                await serving
            await self.close()

    async def _leave(self) -> None:
        try:
            if await self.stream.leave():
                log.info("left the consumer group: nothing pending under %s", self.consumer)
        except Exception as exc:  # noqa: BLE001 - leaving is tidiness; the name is harmless if it stays
            log.info("could not leave the consumer group (%s)", exc)

    async def close(self) -> None:
        await self.classifier.close()
        await self.redis.aclose()
        await self.engine.dispose()

    def health(self) -> tuple[dict[str, Any], int]:
        status = "stopping" if self.stopping.is_set() else "paused" if self.paused_by else "ok"
        body = {
            "status": status,
            "consumer": self.consumer,
            "waiting_for": self.paused_by,
            "classifier": self.classifier.model_name,
        }
        return body, 503 if status == "stopping" else 200

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
                except Stopped:
                    break
                if batch:
                    handling.create_task(self._handle_in(batch, slots))
                else:
                    slots.release()

    async def _read_batch(self) -> list[Entry]:
        size, linger = self.settings.worker_batch_size, self.settings.worker_linger_ms / 1000
        batch = await self._retrying(self.stream.read)
        if batch and len(batch) < size and linger and not await self._sleep(linger):
            batch += await self._retrying(lambda: self.stream.read(count=size - len(batch), block=False))
        return batch

    async def _handle_in(self, batch: list[Entry], slots: asyncio.Semaphore) -> None:
        try:
            await self.handle(batch)
        except Stopped:
            pass  # the batch stays pending, for this consumer's next start or another's takeover
        finally:
            slots.release()

    async def _own_pending(self) -> None:
        """What this consumer name left pending before a restart: handled one post at a time."""
        start = "0"
        while not self.stopping.is_set():
            batch = await self._retrying(partial(self.stream.read, start))
            if not batch:
                return
            log.info("handling %d posts this consumer left pending", len(batch))
            for entry in batch:
                await self.handle_alone(entry)
            start = batch[-1].id

    async def _reclaim_loop(self) -> None:
        """Posts left pending by a consumer that died, taken over after WORKER_CLAIM_IDLE_S, one at a time."""
        idle_ms = int(self.settings.worker_claim_idle_s * 1000)
        while not await self._sleep(min(self.settings.worker_claim_idle_s / 2, 5.0)):
            if self.paused_by:
                continue  # an outage holds everyone's batches: nothing is dead
            start = "0-0"
            while not self.stopping.is_set():
                try:
                    start, found = await self._retrying(partial(self.stream.claim, start, idle_ms))
                except Stopped:
                    return
                claimed = [e for e in found if e.id not in self._holding]
                if claimed:
                    log.warning("took over %d posts left pending by another consumer", len(claimed))
                try:
                    for entry in claimed:
                        await self.handle_alone(entry)
                except Stopped:
                    return  # the batches in flight finish: the read loop waits for them
                if start == "0-0":
                    break

    async def _trim_loop(self) -> None:
        """Keep the stream bounded, and the backlog's gauges current."""
        while not await self._sleep(TRIM_EVERY_S):
            try:
                backlog = await self.stream.trim()
            except Exception as exc:
                if is_outage(exc):
                    log.debug("trim skipped: %s", exc)
                else:  # housekeeping: never worth stopping the worker for
                    log.exception("trim failed")
                continue
            if backlog:
                self.metrics.pending.set(backlog.pending)
                self.metrics.lag.set(backlog.lag)

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
            except Stopped:
                raise
            except Exception:
                log.exception("a batch of %d failed: retrying each post alone", len(batch))
                for entry in batch:
                    await self.handle_alone(entry)
            else:
                self.outage.succeeded()
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
        """One post, counted: its attempts survive a crash, and the WORKER_MAX_FAILURES-th failure on its
        own account dead-letters it (services/worker/alone.py)."""
        with self._hold([entry]):
            await alone.handle(self, entry)

    async def process(self, batch: list[Entry]) -> None:
        """A batch, top to bottom: validate, apply the deletes, look up what is stored, classify the new
        posts in one call, store them in one transaction, settle (publish, dead-letter, acknowledge)."""
        valid, deletes, dead = validate(batch, self.settings.retention_days)
        # The deletes first, in their own transaction: a post deleted in this batch is then not stored.
        removed = await self.delete(deletes)
        gone = {d.post_id for d in deletes}
        valid_kept = [(entry, post) for entry, post in valid if post.post_id not in gone]
        known = await self.look_up([post.post_id for _, post in valid_kept])
        new = first_unknown(valid_kept, known)
        if new:
            found, tombstoned = await self.store(await self.classify(new))
            known |= found
            gone |= tombstoned
        events, refused = events_for(valid, known, gone)
        await self.settle(events, dead + refused, batch, removed)

    async def delete(self, deletes: list[DeleteMessage]) -> list[DeleteMessage]:
        """The deletes applied; those whose posts were stored (and are now gone)."""
        if not deletes:  # most batches: no session to open
            return []
        async with self.sessions() as session:
            removed = await delete(session, deletes)
        self.metrics.deletes.inc(len(deletes))
        self.metrics.posts_deleted.inc(len(removed))
        return removed

    async def look_up(self, post_ids: list[str]) -> dict[str, StoredPost]:
        async with self.sessions() as session:
            return await stored(session, list(set(post_ids)))

    async def classify(self, new: list[Valid]) -> list[StoredPost]:
        result = await self.classifier.classify([post.content for _, post in new])
        return analysed(new, result.predictions, datetime.now(UTC))

    async def store(self, rows: list[StoredPost]) -> tuple[dict[str, StoredPost], set[str]]:
        """The rows as stored (services/worker/store.py ``write_or_find``), and the tombstoned post_ids."""
        async with self.sessions() as session:
            found, tombstoned = await write_or_find(session, rows)
        self.metrics.tombstoned.inc(len(tombstoned))
        return found, tombstoned

    settle = settle_batch  # keep the dead letters, publish, acknowledge (services/worker/settle.py)
