"""A post handled on its own, after its batch failed or when it is taken over (docs/pipeline.md).

Its attempts are counted in Redis, so that one that crashes the worker counts too. A failure on the post's
own account counts against it, and the WORKER_MAX_FAILURES-th dead-letters it. A failure not known to be
the post's fault dead-letters it only when other posts succeeded here after it failed; one that fails
WORKER_SYSTEMIC_FAILURES distinct posts in a row is systemic, and the worker waits it out. A post whose
attempts each crashed the worker is looked up first: if it was stored after all, it is settled.
"""

import contextlib
import logging
from typing import Protocol

import redis.exceptions

from services.common.events import PostData
from services.common.settings import Settings
from services.worker.batch import Refused, events_for, validate
from services.worker.dead_letters import Failures
from services.worker.metrics import Metrics
from services.worker.outage import Pauser, Stopped, describe, post_fault
from services.worker.store import StoredPost
from services.worker.stream import Entry

log = logging.getLogger("worker")


class Worker(Protocol):
    settings: Settings
    failures: Failures
    outage: Pauser
    metrics: Metrics

    async def process(self, batch: list[Entry]) -> None: ...
    async def look_up(self, post_ids: list[str]) -> dict[str, StoredPost]: ...
    async def settle(self, events: list[PostData], dead: list[Refused], batch: list[Entry]) -> None: ...


async def handle(worker: Worker, entry: Entry) -> None:
    retrying, most = worker.outage.retrying, worker.settings.worker_max_failures
    count = await retrying(lambda: worker.failures.count(entry.id))
    if count > most:  # its last attempts stopped the worker before they could count as failures
        await _after_crashes(worker, entry, count - 1)
        return
    try:
        await retrying(lambda: worker.process([entry]))
    except Stopped:
        with contextlib.suppress(redis.exceptions.RedisError, OSError):  # Redis may be the outage
            await worker.failures.uncount(entry.id)  # not its fault
        raise
    except Exception as exc:  # noqa: BLE001 (sorted out below: the post's fault, or not known to be)
        await _failed(worker, entry, exc, count)
    else:
        worker.outage.succeeded()


async def _failed(worker: Worker, entry: Entry, exc: Exception, count: int) -> None:
    retrying, most, reason = worker.outage.retrying, worker.settings.worker_max_failures, describe(exc)
    worker.metrics.failed.inc()
    if not post_fault(exc):
        streak = worker.outage.failed(entry.id, exc)
        if streak is not None:  # systemic: the counts were not the posts', and this one waits it out
            await retrying(lambda: worker.failures.uncount(*streak))
            await handle(worker, entry)
            return
        if count >= most and entry.id not in worker.outage.outlived:
            # No sign yet that the post is at fault (nothing else succeeded here since it failed): it is
            # counted no further, and waits for its next turn.
            log.warning("post %s failed, and nothing else succeeded since: %s", entry.id, reason)
            await retrying(lambda: worker.failures.uncount(entry.id))
            return
    log.warning("post %s failed (%d of %d): %s", entry.id, count, most, reason)
    if count >= most:
        dead = [(entry, f"failed {count} times: {reason}")]
        await retrying(lambda: worker.settle([], dead, [entry]))
        worker.outage.settled(entry.id)
    else:  # it stays pending, and is taken over again after WORKER_CLAIM_IDLE_S
        await retrying(lambda: worker.failures.keep_reason(entry.id, reason))


async def _after_crashes(worker: Worker, entry: Entry, crashes: int) -> None:
    """A post whose lone attempts each stopped the worker: settled if it was stored after all (the crash
    came after the commit), else dead-lettered."""
    retrying = worker.outage.retrying
    valid, _, _ = validate([entry], worker.settings.retention_days)
    known = await retrying(lambda: worker.look_up([post.post_id for _, post in valid]))
    if valid and valid[0][1].post_id in known:
        events, refused = events_for(valid, known)
        await retrying(lambda: worker.settle(events, refused, [entry]))
        return
    why = await retrying(lambda: worker.failures.reason(entry.id)) or "its processing stopped the worker"
    await retrying(lambda: worker.settle([], [(entry, f"failed {crashes} times: {why}")], [entry]))
