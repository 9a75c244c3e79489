"""The worker's side of the stream: the consumer group, reads, takeovers, trimming, and settling a batch."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions

from services.common.names import RedisNames
from services.worker import dead_letters


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
        try:
            await self.client.xgroup_create(self.names.stream, self.names.group, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read(self, start: str = ">", count: int | None = None, *, block: bool = True) -> list[Entry]:
        """New entries (``>``, waiting up to WORKER_BLOCK_MS unless told not to wait), or this consumer's
        pending ones after ``start``; at most ``count`` (WORKER_BATCH_SIZE)."""
        reply: Any = await self.client.xreadgroup(
            self.names.group,
            self.consumer,
            {self.names.stream: start},
            count=count or self.batch_size,
            block=self.block_ms if start == ">" and block else None,
        )
        return entries(reply[0][1]) if reply else []

    async def claim(self, start: str, idle_ms: int) -> tuple[str, list[Entry]]:
        """Entries pending longer than ``idle_ms`` with any consumer, from ``start``, now ours; and where to
        go on from ("0-0" at the end)."""
        reply: Any = await self.client.xautoclaim(
            self.names.stream,
            self.names.group,
            self.consumer,
            min_idle_time=idle_ms,
            start_id=start,
            count=self.batch_size,
        )
        return _text(reply[0]), entries(reply[1])

    async def trim(self) -> Backlog | None:
        """Trim below the oldest entry still pending or not yet delivered; None before the group exists."""
        groups = await self.client.xinfo_groups(self.names.stream)
        ours = next((g for g in groups if g["name"].decode() == self.names.group), None)
        if ours is None:
            return None
        summary = await self.client.xpending(self.names.stream, self.names.group)
        oldest = summary["min"] if summary["pending"] else ours["last-delivered-id"]
        if oldest and oldest != b"0-0":
            await self.client.xtrim(self.names.stream, minid=oldest, approximate=False)
        return Backlog(summary["pending"], ours.get("lag") or 0)

    async def settle(
        self, events: Sequence[str], dead: Sequence[tuple[Entry, str]], batch: Sequence[Entry]
    ) -> None:
        """Publish the events, dead-letter ``dead``, acknowledge the batch and forget its failure counts, in
        one Redis transaction."""
        pipe = self.client.pipeline(transaction=True)
        for event in events:
            pipe.publish(self.names.channel, event)
        at = datetime.now(UTC).isoformat()
        for entry, reason in dead:
            dead_letters.add(
                pipe, self.names, dead_letters.record(entry.fields, entry.id, reason, at, self.consumer)
            )
        ids = [entry.id for entry in batch]
        pipe.xack(self.names.stream, self.names.group, *ids)
        dead_letters.forget_failures(pipe, self.names, ids)
        await pipe.execute()
