"""Putting posts on the stream: validated, paced, slowed down by a full backlog, through Redis outages.

Every record is checked against the shared message schema first: an invalid one is reported (counted, with
its reason) and skipped, never sent. Before sending, the producer looks at the stream's length (the
workers trim what they have acknowledged, so it is the backlog) and waits while it is at
``STREAM_MAX_BACKLOG``, saying so. When Redis goes away it retries with backoff until it answers.
"""

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from services.common.messages import MessageError, PostMessage
from services.common.names import REDIS_DOWN, RedisNames

log = logging.getLogger("ingester")


@dataclass
class Tally:
    sent: int = 0
    invalid: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    waited_s: float = 0.0  # time spent waiting for room in the backlog

    def summary(self, seconds: float) -> str:
        rate = self.sent / seconds if seconds else 0.0
        text = f"sent {self.sent} posts in {seconds:.1f} s ({rate:.1f}/s); {self.invalid} invalid, skipped"
        if self.waited_s:
            text += f"; waited {self.waited_s:.1f} s for the backlog to drain"
        for reason, n in self.reasons.most_common(5):
            text += f"\n  {n} x {reason}"
        return text


class Producer:
    def __init__(self, client: aioredis.Redis, names: RedisNames, max_backlog: int, batch: int = 100) -> None:
        self.client, self.names, self.max_backlog, self.batch = client, names, max_backlog, batch
        self.tally = Tally()
        self._queue: list[PostMessage] = []

    def check(self, fields: Mapping[str, object]) -> PostMessage | None:
        """The record as a message, or None (reported) when it breaks the schema."""
        try:
            return PostMessage.parse(fields)
        except MessageError as exc:
            self.tally.invalid += 1
            for error in exc.errors:
                self.tally.reasons[f"{error.field}: {error.message}"] += 1
            log.warning("skipped an invalid record (%s): %s", fields.get("post_id", "no post_id"), exc)
            return None

    async def send(self, post: PostMessage) -> None:
        """Queue one post; they go out in pipelined batches (``flush`` sends the rest)."""
        self._queue.append(post)
        if len(self._queue) >= self.batch:
            await self.flush()

    async def flush(self) -> None:
        if not self._queue:
            return
        posts, self._queue = self._queue, []
        await self._retrying(self._wait_for_room, len(posts))
        await self._retrying(self.add, posts)
        self.tally.sent += len(posts)

    async def add(self, posts: list[PostMessage]) -> None:
        """XADD the posts in one pipelined round trip (no backlog check, no retry)."""
        pipe = self.client.pipeline(transaction=False)
        for post in posts:
            pipe.xadd(self.names.stream, post.to_stream())  # type: ignore[arg-type]
        await pipe.execute()

    async def backlog(self) -> int:
        return int(await self.client.xlen(self.names.stream))

    async def _wait_for_room(self, n: int) -> None:
        started, said = time.monotonic(), False
        while (backlog := await self.backlog()) + n > self.max_backlog:
            if not said:
                log.warning(
                    "backlog %d at the limit of %d (STREAM_MAX_BACKLOG): waiting", backlog, self.max_backlog
                )
                said = True
            await asyncio.sleep(0.2)
        if said:
            self.tally.waited_s += time.monotonic() - started
            log.info("backlog down to %d: sending again", backlog)

    async def _retrying(self, call: Callable[..., Awaitable[None]], *args: object) -> None:
        def down(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning("Redis unavailable (%s): retrying", exc)

        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(REDIS_DOWN),
            wait=wait_exponential(multiplier=0.1, max=5.0),
            before_sleep=down,
            reraise=True,
        ):
            with attempt:
                await call(*args)


def batch_for(rate: float) -> int:
    """Posts per pipelined send: about 50 ms worth, 1 at low rates, 100 as fast as possible."""
    return 100 if rate <= 0 else max(1, min(100, int(rate / 20)))


class Pacer:
    """Spaces sends ``rate`` per second on average, each gap varied by ±``jitter`` (a fraction)."""

    def __init__(self, rate: float, jitter: float = 0.2, seed: int = 0) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.jitter = jitter
        self.rng = random.Random(seed)
        self.next_at = time.monotonic()

    async def wait(self) -> None:
        if not self.interval:
            return
        self.next_at += self.interval * (1 + self.rng.uniform(-self.jitter, self.jitter))
        delay = self.next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -1.0:  # fell more than a second behind (a pause): do not burst to catch up
            self.next_at = time.monotonic()
