"""The dead-letter stream: what the worker set aside and why, and re-driving chosen entries.

Each dead-letter entry holds the original fields as they were read (bytes that were not UTF-8 included),
plus ``dead_letter_reason``, ``dead_letter_entry_id`` (its id on the main stream), ``dead_letter_at`` and
``dead_letter_consumer``. Re-driving puts the original fields back on the main stream as a new entry and
deletes the dead-letter entry, in one transaction.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from services.common.names import RedisNames

PREFIX = b"dead_letter_"


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
