"""What every ingester source sends through: records validated (an invalid one is counted with its reason
and skipped), sends paced and batched, waiting while the backlog is full and while Redis is away. A live
source's cursor goes out with the messages it follows, in one MULTI."""

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from services.common.messages import MessageError, PostMessage, StreamMessage
from services.common.names import RedisNames
from services.common.redis import redis_client, redis_unavailable
from services.common.retry import waiting_out
from services.common.settings import Settings
from services.common.stream import BacklogFull, StreamWriter

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
        for reason, n in self.reasons.most_common(10):
            text += f"\n  {n} x {reason}"
        return text


class Producer:
    def __init__(
        self,
        client: aioredis.Redis,
        names: RedisNames,
        max_backlog: int,
        batch: int = 100,
        retention_days: int | None = None,
    ) -> None:
        self.client = client
        self.retention_days = retention_days  # a post older is refused here, as the worker would
        self.writer = StreamWriter(client, names, max_backlog)
        self.batch = batch
        self.tally = Tally()
        self._queue: list[StreamMessage] = []
        self._cursors: dict[str, str] = {}  # source -> position, not yet written
        self._flushing = asyncio.Lock()

    @classmethod
    def for_settings(cls, settings: Settings, rate: float) -> "Producer":
        """A producer on REDIS_URL sending batches fit for ``rate`` posts a second."""
        names = RedisNames(settings.redis_key_prefix)
        return cls(
            redis_client(settings, "pipeline"),
            names,
            settings.stream_max_backlog,
            batch_for(rate),
            settings.retention_days,
        )

    def check(self, fields: Mapping[str, object]) -> PostMessage | None:
        """The record as a message, or None (reported) when it breaks the schema."""
        try:
            return PostMessage.parse(fields, self.retention_days)
        except MessageError as exc:
            self.tally.invalid += 1
            for error in exc.errors:
                self.tally.reasons[f"{error.field}: {error.message}"] += 1
            log.warning("skipped an invalid record (%s): %s", fields.get("post_id", "no post_id"), exc)
            return None

    async def send(self, post: StreamMessage) -> None:
        """Queue one message; they go out in pipelined batches (``flush`` sends the rest)."""
        self.queue(post)
        if len(self._queue) >= self.batch:
            await self.flush()

    def queue(self, post: StreamMessage) -> None:
        """Queue one message for the next ``flush``, which is the caller's to call."""
        self._queue.append(post)

    def advance(self, source: str, cursor: str) -> None:
        """Where ``source`` resumes once what is queued is sent: written with the next flush (a source with
        several cursors, one a timeline, advances each)."""
        self._cursors[source] = cursor

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def flush(self, wait: bool = True) -> None:
        """Send what is queued, and the cursor; while the backlog is full, wait (or, ``wait=False``, raise
        BacklogFull and keep the queue)."""
        async with self._flushing:
            if not self._queue and not self._cursors:
                return
            if wait:
                await self._retrying(self._wait_for_room, len(self._queue))
            else:
                await self._retrying(self.writer.check_room, len(self._queue))
            posts, self._queue = self._queue, []
            cursors, self._cursors = self._cursors, {}
            await self._retrying(self.writer.add, posts, cursors)
            self.tally.sent += len(posts)

    async def wait_for_room(self, stop: asyncio.Event | None = None) -> None:
        """Return once what is queued fits under the backlog limit (or once ``stop`` is set)."""
        await self._retrying(self._wait_for_room, max(1, len(self._queue)), stop)

    async def _wait_for_room(self, n: int, stop: asyncio.Event | None = None) -> None:
        started, said, backlog = time.monotonic(), False, None
        while stop is None or not stop.is_set():
            try:
                backlog = await self.writer.check_room(n)
                break
            except BacklogFull as full:
                if not said:
                    log.warning("%s (STREAM_MAX_BACKLOG): waiting", full)
                    said = True
            await asyncio.sleep(0.2)
        if said:
            self.tally.waited_s += time.monotonic() - started
            if backlog is not None:
                log.info("backlog down to %d: sending again", backlog)

    async def _retrying(self, call: Callable[..., Awaitable[object]], *args: object) -> None:
        # Redis away or refusing writes for now (out of memory, a failed save, a replica): wait, then send.
        async for attempt in waiting_out("Redis", redis_unavailable, log):
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
