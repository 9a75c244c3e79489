"""The dead-letter stream, written and read here: a record's format, the failure counts that lead to it,
listing and re-driving (docs/pipeline.md).

A record holds the original fields as they were read (bytes that were not UTF-8 included) plus
``dead_letter_reason``, ``dead_letter_entry_id`` (its id on the main stream), ``dead_letter_at`` and
``dead_letter_consumer``.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from services.common.names import RedisNames

PREFIX = b"dead_letter_"
MAX_ENTRIES = 100_000  # the dead-letter stream keeps about this many


def record(
    fields: dict[bytes, bytes], entry_id: str, reason: str, at: str, consumer: str
) -> dict[bytes, Any]:
    """A dead-letter record: the original fields and why, when and by whom it was set aside."""
    meta = {"reason": reason, "entry_id": entry_id, "at": at, "consumer": consumer}
    return {**fields, **{PREFIX + key.encode(): value for key, value in meta.items()}}


def add(pipe: Pipeline, names: RedisNames, letter: dict[bytes, Any]) -> None:
    pipe.xadd(names.dead_letter_stream, letter, maxlen=MAX_ENTRIES, approximate=True)  # type: ignore[arg-type]


class Failures:
    """How many times each entry failed on its own account, and the last reason, kept in Redis so that a
    post that crashes the worker is counted too."""

    def __init__(self, client: aioredis.Redis, names: RedisNames) -> None:
        self.client = client
        self.key = names.failures

    async def count(self, entry_id: str) -> int:
        """One more attempt at the entry; returns how many so far, this one included."""
        return int(await self.client.hincrby(self.key, entry_id, 1))

    async def uncount(self, entry_id: str) -> None:
        await self.client.hincrby(self.key, entry_id, -1)

    async def reason(self, entry_id: str) -> str | None:
        found: Any = await self.client.hget(self.key, f"{entry_id}:reason")
        return found.decode() if found else None

    async def keep_reason(self, entry_id: str, reason: str) -> None:
        await self.client.hset(self.key, f"{entry_id}:reason", reason)


def forget_failures(pipe: Pipeline, names: RedisNames, entry_ids: Sequence[str]) -> None:
    pipe.hdel(names.failures, *entry_ids, *(f"{i}:reason" for i in entry_ids))


@dataclass(frozen=True)
class DeadLetter:
    id: str
    reason: str
    entry_id: str
    at: str
    fields: dict[bytes, bytes]  # the original fields

    def show(self) -> dict[str, object]:
        """A JSON-friendly view: field values as text where they are UTF-8, else as their repr."""

        def text(value: bytes) -> str:
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                return repr(value)

        fields = {text(k): text(v)[:500] for k, v in self.fields.items()}
        return {
            "id": self.id,
            "reason": self.reason,
            "entry_id": self.entry_id,
            "at": self.at,
            "fields": fields,
        }


def _parse(entry_id: bytes, raw: dict[bytes, bytes]) -> DeadLetter:
    meta = {
        k.removeprefix(PREFIX).decode(): v.decode("utf-8", "replace")
        for k, v in raw.items()
        if k.startswith(PREFIX)
    }
    return DeadLetter(
        id=entry_id.decode(),
        reason=meta.get("reason", ""),
        entry_id=meta.get("entry_id", ""),
        at=meta.get("at", ""),
        fields={k: v for k, v in raw.items() if not k.startswith(PREFIX)},
    )


async def read(client: aioredis.Redis, names: RedisNames, count: int = 100) -> list[DeadLetter]:
    """The oldest ``count`` dead letters."""
    found: Any = await client.xrange(names.dead_letter_stream, count=count)
    return [_parse(i, f) for i, f in found]


async def redrive(client: aioredis.Redis, names: RedisNames, ids: Sequence[str]) -> list[str]:
    """Put the chosen dead letters back on the stream; returns their new ids. Unknown ids are an error."""
    letters = []
    for entry_id in ids:
        found: Any = await client.xrange(names.dead_letter_stream, min=entry_id, max=entry_id)
        if not found:
            raise KeyError(f"no dead letter {entry_id}")
        letters.append(_parse(*found[0]))
    pipe = client.pipeline(transaction=True)
    for letter in letters:
        pipe.xadd(names.stream, letter.fields)  # type: ignore[arg-type]
        pipe.xdel(names.dead_letter_stream, letter.id)
    results = await pipe.execute()
    return [r.decode() for r in results[::2]]
