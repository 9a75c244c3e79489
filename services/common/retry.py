"""The one retry policy for waiting out a dependency that does not answer: exponential backoff from 0.1 s
to 5 s, each wait logged with what failed and how long the next try is away."""

import logging
from collections.abc import Callable

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_never
from tenacity.stop import stop_base
from tenacity.wait import wait_exponential

FIRST_WAIT_S = 0.1
LONGEST_WAIT_S = 5.0


def waiting_out(
    what: str,
    down: Callable[[BaseException], bool],
    log: logging.Logger,
    *,
    stop: stop_base | Callable[[RetryCallState], bool] = stop_never,
    on_wait: Callable[[BaseException], None] | None = None,
    level: int = logging.WARNING,
    longest_wait_s: float = LONGEST_WAIT_S,
) -> AsyncRetrying:
    """Retry while ``down(exc)`` says the failure is ``what`` being away; other failures are raised at once.
    ``on_wait`` hears of each failure before its wait (e.g. to mark a pause)."""

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if exc is None:
            return
        wait = state.upcoming_sleep
        log.log(level, "%s unavailable (%s: %s): trying again in %.1f s", what, type(exc).__name__, exc, wait)
        if on_wait is not None:
            on_wait(exc)

    return AsyncRetrying(
        retry=retry_if_exception(down),
        wait=wait_exponential(multiplier=FIRST_WAIT_S, max=longest_wait_s),
        stop=stop,
        before_sleep=before_sleep,
        reraise=True,
    )
