"""Dead letters (docs/pipeline.md): the posts set aside, kept in PostgreSQL until someone redrives or
deletes them; and the failure counts, in Redis, that lead a post there.

A dead letter holds the stream entry's fields byte for byte as read (not UTF-8 included), its id on the
stream, why it was set aside, when, and by which consumer.
"""

import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.client import Pipeline
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.db.models import DeadLetter as Row
from services.common.names import RedisNames

OLD_PREFIX = b"dead_letter_"  # the metadata fields of a dead letter in the old Redis stream
Fields = dict[bytes, bytes]


def _flat(fields: Fields) -> list[bytes]:
    return [part for name, value in fields.items() for part in (name, value)]


def _pairs(flat: Sequence[bytes]) -> Fields:
    return {bytes(flat[i]): bytes(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}


def _text(reason: str) -> str:
    """A reason any database takes, whatever its encoding (a LATIN1 one holds no emoji) and whatever the
    reason quotes: ASCII, with anything else escaped (NUL included)."""
    return reason.encode("ascii", "backslashreplace").decode().replace("\x00", "\\x00")


@dataclass(frozen=True)
class DeadLetter:
    id: int
    entry_id: str
    reason: str
    at: str
    consumer: str
    fields: Fields  # the original fields

    def show(self) -> dict[str, object]:
        """A JSON-friendly view: field values as text where they are UTF-8, else as their repr."""

        def text(value: bytes) -> str:
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                return repr(value)

        return {
            "id": self.id,
            "reason": self.reason,
            "entry_id": self.entry_id,
            "at": self.at,
            "consumer": self.consumer,
            "fields": {text(k): text(v)[:500] for k, v in self.fields.items()},
        }


def _letter(row: Row) -> DeadLetter:
    return DeadLetter(
        row.id, row.entry_id, row.reason, row.dead_lettered_at.isoformat(), row.consumer, _pairs(row.fields)
    )


async def keep(session: AsyncSession, letters: Sequence[tuple[str, Fields, str]], consumer: str) -> None:
    """Store (entry id, fields, reason) dead letters in one transaction. One already kept as it is stays
    once (a settle retried); another under the same id (an id Redis gave again after losing its data) is
    kept too, its id marked."""
    rows = [
        {"entry_id": entry_id, "fields": _flat(fields), "reason": _text(reason), "consumer": consumer}
        for entry_id, fields, reason in letters
    ]
    await _insert(session, rows)


async def _insert(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    async with session.begin():
        kept = await session.execute(
            insert(Row).on_conflict_do_nothing(index_elements=[Row.entry_id]).returning(Row.entry_id), rows
        )
        new = set(kept.scalars())
        skipped = [row for row in rows if row["entry_id"] not in new]
        if not skipped:
            return
        found = await session.execute(
            select(Row.entry_id, Row.fields).where(Row.entry_id.in_([r["entry_id"] for r in skipped]))
        )
        same = {(entry_id, tuple(map(bytes, fields))) for entry_id, fields in found}
        other = [r for r in skipped if (r["entry_id"], tuple(r["fields"])) not in same]
        for row in other:
            row["entry_id"] = f"{row['entry_id']}~{uuid.uuid4().hex[:12]}"
        if other:
            await session.execute(insert(Row), other)


async def read(session: AsyncSession, count: int = 100) -> list[DeadLetter]:
    """The oldest ``count`` dead letters."""
    rows = await session.scalars(select(Row).order_by(Row.id).limit(count))
    return [_letter(row) for row in rows]


async def _chosen(session: AsyncSession, ids: Sequence[int]) -> list[Row]:
    rows = list(await session.scalars(select(Row).where(Row.id.in_(ids)).order_by(Row.id)))
    missing = sorted(set(ids) - {row.id for row in rows})
    if missing:
        raise KeyError(f"no dead letter {', '.join(map(str, missing))}")
    return rows


async def redrive(
    sessions: async_sessionmaker[AsyncSession], client: aioredis.Redis, names: RedisNames, ids: Sequence[int]
) -> list[str]:
    """Put the chosen dead letters back on the stream, then delete them; returns their new entry ids.
    Unknown ids are an error (KeyError) and nothing is done. Stopped in between, a dead letter is on the
    stream and still kept: redriven again, the worker stores its post once all the same."""
    async with sessions() as session:
        rows = await _chosen(session, ids)
    pipe = client.pipeline(transaction=True)
    for row in rows:
        pipe.xadd(names.stream, _pairs(row.fields))  # type: ignore[arg-type]
    added = await pipe.execute()
    async with sessions() as session, session.begin():
        await session.execute(delete(Row).where(Row.id.in_([row.id for row in rows])))
    return [entry_id.decode() for entry_id in added]


async def remove(sessions: async_sessionmaker[AsyncSession], ids: Sequence[int]) -> int:
    """Delete the chosen dead letters for good; unknown ids are an error (KeyError) and nothing is deleted."""
    async with sessions() as session, session.begin():
        rows = await _chosen(session, ids)
        await session.execute(delete(Row).where(Row.id.in_([row.id for row in rows])))
    return len(rows)


async def adopt_old_stream(
    sessions: async_sessionmaker[AsyncSession], client: aioredis.Redis, names: RedisNames
) -> int:
    """Move what an older version left in the Redis dead-letter stream into PostgreSQL, with its reason,
    time and consumer; returns how many."""
    moved = 0
    while True:
        found: Any = await client.xrange(names.dead_letter_stream, count=500)
        if not found:
            return moved
        rows = []
        for stream_id, raw in found:
            meta = {
                k.removeprefix(OLD_PREFIX): v.decode("utf-8", "replace")
                for k, v in raw.items()
                if k.startswith(OLD_PREFIX)
            }
            row = {
                "entry_id": meta.get(b"entry_id") or stream_id.decode(),
                "fields": _flat({k: v for k, v in raw.items() if not k.startswith(OLD_PREFIX)}),
                "reason": _text(meta.get(b"reason", "")),
                "consumer": meta.get(b"consumer", "")[:128],
            }
            try:
                row["dead_lettered_at"] = datetime.fromisoformat(meta.get(b"at", ""))
            except ValueError:  # none recorded: the time it is moved
                row["dead_lettered_at"] = datetime.now(UTC)
            rows.append(row)
        async with sessions() as session:
            await _insert(session, rows)
        await client.xdel(names.dead_letter_stream, *[stream_id for stream_id, _ in found])
        moved += len(found)


UNCOUNTED_KEPT = 10_000


class Failures:
    """How many times each entry failed on its own account, and the last reason, kept in Redis so that a
    post that crashes the worker is counted too. While Redis is full (maxmemory with noeviction, which
    refuses HINCRBY and HSET) an attempt goes uncounted rather than stopping the worker: its count is read,
    not raised, and that attempt is not taken back later."""

    def __init__(self, client: aioredis.Redis, names: RedisNames) -> None:
        self.client = client
        self.key = names.failures
        self._uncounted: set[str] = set()  # attempts made while Redis was full

    async def count(self, entry_id: str) -> int:
        """One more attempt at the entry; returns how many so far, this one included."""
        try:
            return int(await self.client.hincrby(self.key, entry_id, 1))
        except redis.exceptions.OutOfMemoryError:
            if len(self._uncounted) > UNCOUNTED_KEPT:  # a bound: those settled long ago are not retried
                self._uncounted.clear()
            self._uncounted.add(entry_id)
            found: Any = await self.client.hget(self.key, entry_id)
            return int(found or 0) + 1

    async def uncount(self, *entry_ids: str) -> None:
        counted = [entry_id for entry_id in entry_ids if entry_id not in self._uncounted]
        self._uncounted.difference_update(entry_ids)
        if not counted:
            return
        pipe = self.client.pipeline(transaction=False)
        for entry_id in counted:
            pipe.hincrby(self.key, entry_id, -1)
        with contextlib.suppress(redis.exceptions.OutOfMemoryError):  # the count stays one high
            await pipe.execute()

    async def reason(self, entry_id: str) -> str | None:
        found: Any = await self.client.hget(self.key, f"{entry_id}:reason")
        return found.decode() if found else None

    async def keep_reason(self, entry_id: str, reason: str) -> None:
        self._uncounted.discard(entry_id)
        with contextlib.suppress(redis.exceptions.OutOfMemoryError):  # the log line has it
            await self.client.hset(self.key, f"{entry_id}:reason", reason)


def forget_failures(pipe: Pipeline, names: RedisNames, entry_ids: Sequence[str]) -> None:
    pipe.hdel(names.failures, *entry_ids, *(f"{i}:reason" for i in entry_ids))
