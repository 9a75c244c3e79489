"""What every ingester source sends through: records validated (an invalid one is counted with its reason
and skipped), sends paced and batched, waiting while the backlog is full and while Redis is away."""

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from services.common.messages import MessageError, PostMessage
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
        self._queue: list[PostMessage] = []

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
        await self._retrying(self.writer.add, posts)
        self.tally.sent += len(posts)

    async def _wait_for_room(self, n: int) -> None:
        started, said = time.monotonic(), False
        while True:
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
            log.info("backlog down to %d: sending again", backlog)

    async def _retrying(self, call: Callable[..., Awaitable[None]], *args: object) -> None:
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
