"""While a dependency is down: the batch in hand is retried with backoff, reading stops, health says why."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.exceptions
from prometheus_client import Gauge
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from services.common.inference.llm import LlmUnavailable
from services.common.inference.types import InferenceUnavailable
from services.common.retry import waiting_out

log = logging.getLogger("worker")
T = TypeVar("T")


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


class Stopped(Exception):
    """Raised out of a retry loop when the worker is stopping."""


class Pauser:
    """Runs calls through outages: while one waits, ``paused_by`` says for what."""

    def __init__(self, stopping: asyncio.Event, gauge: Gauge) -> None:
        self.stopping = stopping
        self.gauge = gauge
        self.paused_by: str | None = None

    async def retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``, retried with backoff while a dependency is down; raises Stopped when stopping."""
        # Only a call that waited out an outage ends the pause: other calls may succeed meanwhile.
        waited = False

        def pause(exc: BaseException) -> None:
            nonlocal waited
            waited = True
            self._paused(exc)

        try:
            async for attempt in waiting_out(
                "a dependency",
                is_outage,
                log,
                stop=lambda _: self.stopping.is_set(),
                on_wait=pause,
                level=logging.INFO,
            ):
                with attempt:
                    try:
                        result = await call()
                    except Exception as exc:
                        if is_outage(exc) and self.stopping.is_set():
                            raise Stopped from exc
                        raise
        except Exception as exc:
            if waited and not is_outage(exc) and not isinstance(exc, Stopped):
                self._resumed()  # the dependency answered, though the call failed on the post's account
            raise
        if waited:
            self._resumed()
        return result

    def _paused(self, exc: BaseException) -> None:
        reason = f"{type(exc).__name__}: {exc}"[:300]
        if self.paused_by is None:
            log.warning("paused, a dependency is down: %s", reason)
        self.paused_by = reason
        self.gauge.set(1)

    def _resumed(self) -> None:
        if self.paused_by is not None:
            log.info("resumed")
            self.paused_by = None
            self.gauge.set(0)
