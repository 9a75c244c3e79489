"""The worker's side of the stream: the consumer group, reads, takeovers, trimming, and settling a batch."""

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import redis.asyncio as aioredis
import redis.exceptions

from services.common.names import RedisNames
from services.common.redis import no_group
from services.worker import dead_letters

log = logging.getLogger("worker")
T = TypeVar("T")


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
        out.append(Entry(_text(entry_id), dict(fields)))
    return out


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class Backlog:
    pending: int  # delivered to the group, not yet acknowledged
    lag: int  # not yet delivered


class WorkStream:
    """The stream as one consumer of the group sees it."""

    def __init__(
        self, client: aioredis.Redis, names: RedisNames, consumer: str, batch_size: int, block_ms: int
    ):
        self.client = client
        self.names = names
        self.consumer = consumer
        self.batch_size = batch_size
        self.block_ms = block_ms

    async def ensure_group(self) -> None:
        """The group, created if missing at the start of what the stream holds, with its entries-read set
        to what the stream no longer holds (the workers trim what they acknowledge): its lag then counts
        the entries there, where without it Redis could not tell the lag of a trimmed stream."""
        try:  # XGROUP CREATE adds data, so Redis refuses it when full: look before creating
            groups: Any = await self.client.xinfo_groups(self.names.stream)
            if any(group["name"].decode() == self.names.group for group in groups):
                return
        except redis.exceptions.ResponseError:  # no such key: a new stream
            pass
        try:
            info: Any = await self.client.xinfo_stream(self.names.stream)
            gone = max(int(info["entries-added"]) - int(info["length"]), 0)
        except redis.exceptions.ResponseError:  # no such key: a new stream
            gone = 0
        try:
            await self.client.xgroup_create(
                self.names.stream, self.names.group, id="0", mkstream=True, entries_read=gone
            )
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def leave(self) -> bool:
        """Remove this consumer from the group when it holds nothing pending (a worker that stops cleanly:
        a name left there would be listed for ever). True when it was removed."""
        pending: Any = await self.client.xpending_range(
            self.names.stream, self.names.group, min="-", max="+", count=1, consumername=self.consumer
        )
        if pending:
            return False  # kept: its posts wait for this name's next start, or another's takeover
        await self.client.xgroup_delconsumer(self.names.stream, self.names.group, self.consumer)
        return True

    async def _regrouping(self, call: Callable[[], Awaitable[T]], otherwise: T) -> T:
        """``call()``; when the group is gone (Redis restarted without its data, or someone removed it), it
        is created again and ``otherwise`` returned: the caller goes on with the next read."""
        try:
            return await call()
        except redis.exceptions.ResponseError as exc:
            if not no_group(exc):
                raise
            log.warning("the consumer group %s was gone: creating it again (%s)", self.names.group, exc)
        await self.ensure_group()
        return otherwise

    async def read(self, start: str = ">", count: int | None = None, *, block: bool = True) -> list[Entry]:
        """New entries (``>``, waiting up to WORKER_BLOCK_MS unless told not to wait), or this consumer's
        pending ones after ``start``; at most ``count`` (WORKER_BATCH_SIZE)."""

        async def read() -> Any:
            return await self.client.xreadgroup(
                self.names.group,
                self.consumer,
                {self.names.stream: start},
                count=count or self.batch_size,
                block=self.block_ms if start == ">" and block else None,
            )

        reply: Any = await self._regrouping(read, None)
        return entries(reply[0][1]) if reply else []

    async def claim(self, start: str, idle_ms: int) -> tuple[str, list[Entry]]:
        """Entries pending longer than ``idle_ms`` with any consumer, from ``start``, now ours; and where to
        go on from ("0-0" at the end)."""

        async def claim() -> Any:
            return await self.client.xautoclaim(
                self.names.stream,
                self.names.group,
                self.consumer,
                min_idle_time=idle_ms,
                start_id=start,
                count=self.batch_size,
            )

        reply: Any = await self._regrouping(claim, [b"0-0", []])
        return _text(reply[0]), entries(reply[1])

    async def trim(self) -> Backlog | None:
        """Trim below the oldest entry still pending or not yet delivered; None while the group is missing
        (it is created again)."""
        try:
            groups: Any = await self.client.xinfo_groups(self.names.stream)
        except redis.exceptions.ResponseError:  # no such key: Redis lost the stream
            groups = []
        ours = next((g for g in groups if g["name"].decode() == self.names.group), None)
        if ours is None:
            await self.ensure_group()
            return None
        summary: Any = await self._regrouping(
            lambda: self.client.xpending(self.names.stream, self.names.group), None
        )
        if summary is None:
            return None
        oldest = summary["min"] if summary["pending"] else ours["last-delivered-id"]
        if oldest and oldest != b"0-0":
            await self.client.xtrim(self.names.stream, minid=oldest, approximate=False)
        return Backlog(summary["pending"], ours.get("lag") or 0)

    async def settle(self, events: Sequence[str], batch: Sequence[Entry]) -> None:
        """Publish the events, forget the batch's failure counts, then acknowledge it: one round trip, run
        in that order. None of these commands adds data, so Redis runs them even when its memory is full
        (maxmemory with noeviction), where it refuses every command of a MULTI. Each step is safe to repeat
        and to stop after: cut short before the XACK, the batch is delivered again, stored once, and its
        events published again."""
        pipe = self.client.pipeline(transaction=False)
        for event in events:
            pipe.publish(self.names.channel, event)
        ids = [entry.id for entry in batch]
        dead_letters.forget_failures(pipe, self.names, ids)
        pipe.xack(self.names.stream, self.names.group, *ids)
        await pipe.execute()
