"""What a failure is (docs/pipeline.md), and pausing through the ones that are not a post's fault.

- An **outage**: a dependency does not answer or refuses for now. The call is retried with backoff, the
  worker reads nothing new meanwhile, and /health says what it waits for.
- The **post's fault**: its data broke a rule (SQLSTATE class 22 or 23, an answer the provider cannot give
  for it). Counted against the post: the WORKER_MAX_FAILURES-th failure dead-letters it.
- Anything else is not known to be the post's fault. It is counted too, but once WORKER_SYSTEMIC_FAILURES
  distinct posts have failed that way in a row it is **systemic** (a wrong model, a bug, a missing table):
  the worker pauses as for an outage, with the error on /health, and those posts' counts are taken back.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from prometheus_client import Gauge
from sqlalchemy.exc import DBAPIError

from services.common.db.errors import data_at_fault, database_away, summary
from services.common.inference.llm import LlmInvalidAnswer, LlmUnavailable
from services.common.inference.types import InferenceUnavailable
from services.common.messages import MessageError
from services.common.redis import redis_unavailable
from services.common.retry import waiting_out

log = logging.getLogger("worker")
T = TypeVar("T")
OUTLIVED_KEPT = 10_000


def is_outage(exc: BaseException) -> bool:
    """A dependency that does not answer or refuses for now, as opposed to a post that cannot be processed."""
    if isinstance(exc, InferenceUnavailable | LlmUnavailable | OSError | TimeoutError):
        return True
    return redis_unavailable(exc) or database_away(exc)


def post_fault(exc: BaseException) -> bool:
    """The post's own data is what fails: the same post fails the same way every time."""
    return isinstance(exc, MessageError | LlmInvalidAnswer) or data_at_fault(exc)


def describe(exc: BaseException) -> str:
    """What failed, for a log line, /health and a dead letter's reason."""
    text = summary(exc) if isinstance(exc, DBAPIError) else f"{type(exc).__name__}: {exc}"
    return text[:1000]


class Stopped(Exception):
    """Raised out of a retry loop when the worker is stopping."""


class Pauser:
    """Runs calls through outages, and through a systemic failure once one is seen: while one waits,
    ``paused_by`` says for what."""

    def __init__(
        self, stopping: asyncio.Event, gauge: Gauge, systemic_after: int, longest_wait_s: float
    ) -> None:
        self.stopping = stopping
        self.gauge = gauge
        self.systemic_after = systemic_after
        self.longest_wait_s = longest_wait_s
        self.paused_by: str | None = None
        self.systemic: str | None = None  # the error that failed systemic_after posts in a row
        self.failing: set[str] = set()  # distinct entries failing in a row, not on their own account
        # Entries that failed here, not on their own account, and after which another post succeeded: the
        # one sign that such a failure is the post's own after all.
        self.outlived: set[str] = set()

    def waits_out(self, exc: BaseException) -> bool:
        return is_outage(exc) or (self.systemic is not None and not post_fault(exc))

    def failed(self, entry_id: str, exc: BaseException) -> set[str] | None:
        """Note a lone post's failure that is not known to be its fault. When it makes the failure
        systemic, returns the entries it failed (whose counts are not theirs); else None."""
        self.failing.add(entry_id)
        if len(self.failing) < self.systemic_after:
            return None
        self.systemic = describe(exc)
        log.error(
            "%d posts in a row failed the same way, not on their own account: pausing until it passes (%s)",
            len(self.failing),
            self.systemic,
        )
        failed, self.failing = self.failing, set()
        return failed

    def succeeded(self) -> None:
        if len(self.outlived) > OUTLIVED_KEPT:  # a bound: an entry not retried by now has been settled
            self.outlived.clear()
        self.outlived |= self.failing
        self.failing.clear()

    def settled(self, entry_id: str) -> None:
        """A failed entry dead-lettered: it has no count left to take back."""
        self.outlived.discard(entry_id)
        self.failing.discard(entry_id)

    async def retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``, retried with backoff while ``waits_out`` the failure; raises Stopped when stopping."""
        # Only a call that waited out an outage ends the pause: other calls may succeed meanwhile. And only
        # one that waited out the systemic failure itself (not a Redis blip meanwhile) ends that.
        waited = systemic = False

        def pause(exc: BaseException) -> None:
            nonlocal waited, systemic
            waited = True
            systemic = systemic or not is_outage(exc)
            self._paused(exc)

        try:
            async for attempt in waiting_out(
                "a dependency",
                self.waits_out,
                log,
                stop=lambda _: self.stopping.is_set(),
                on_wait=pause,
                level=logging.INFO,
                longest_wait_s=self.longest_wait_s,
            ):
                with attempt:
                    try:
                        result = await call()
                    except Exception as exc:
                        if self.waits_out(exc) and self.stopping.is_set():
                            raise Stopped from exc
                        raise
        except Exception as exc:
            if waited and not self.waits_out(exc) and not isinstance(exc, Stopped):
                self._resumed(
                    systemic
                )  # the dependency answered, though the call failed on the post's account
            raise
        if waited:
            self._resumed(systemic)
        return result

    def _paused(self, exc: BaseException) -> None:
        reason = describe(exc)[:300]
        if self.systemic is not None and not is_outage(exc):
            reason = f"systemic failure: {reason}"
        if self.paused_by is None:
            log.warning("paused: %s", reason)
        self.paused_by = reason
        self.gauge.set(1)

    def _resumed(self, systemic: bool) -> None:
        if systemic:
            self.systemic = None
        if self.paused_by is not None:
            log.info("resumed")
            self.paused_by = None
            self.gauge.set(0)
