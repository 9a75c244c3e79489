"""Records of a JSON lines or CSV file as stream messages, with a field mapping.

``--map content=text --map author=user.name`` says which of the file's fields fills each message field (a
dotted name reaches into nested JSON objects). Without a mapping a field is read under its own name. A record
without ``post_id`` gets one made of the file's name and its line number; without ``source``, the
``--source`` given; a missing ``created_at`` stays missing, and the record is reported as invalid: a replay
keeps the posts' own times (ARCHITECTURE.md), it never invents them.
"""

import csv
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

FIELDS = ("post_id", "source", "content", "author", "created_at")


class ReplayError(ValueError):
    """The file or the mapping cannot be read at all (a bad record is reported and skipped instead)."""


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    """``["content=text", ...]`` -> ``{"content": "text"}``; unknown message fields are refused."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        ours, sep, theirs = pair.partition("=")
        if not sep or not theirs:
            raise ReplayError(f"--map {pair!r}: write it as FIELD=NAME_IN_FILE")
        if ours not in FIELDS:
            raise ReplayError(f"--map {pair!r}: {ours!r} is not a message field ({', '.join(FIELDS)})")
        mapping[ours] = theirs
    return mapping


def _get(record: Mapping[str, Any], dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def records(path: Path, fmt: str | None = None) -> Iterator[tuple[int, Mapping[str, Any] | None]]:
    """(line number, record) for each record; a line that is not valid JSON gives None."""
    kind = fmt or path.suffix.lower().lstrip(".")
    if kind in ("jsonl", "ndjson", "json"):
        with path.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    yield number, None
                    continue
                yield number, record if isinstance(record, dict) else None
    elif kind == "csv":
        with path.open(encoding="utf-8", errors="replace", newline="") as lines:
            for number, row in enumerate(csv.DictReader(lines), start=2):
                yield number, row
    else:
        raise ReplayError(f"{path}: say --format jsonl or csv (cannot tell from {path.suffix!r})")


def message_fields(
    record: Mapping[str, Any], mapping: Mapping[str, str], *, line: int, file_id: str, source: str
) -> dict[str, object]:
    """The message fields of one record, before validation (the producer checks them)."""
    fields: dict[str, object] = {}
    for name in FIELDS:
        value = _get(record, mapping.get(name, name))
        if value is not None and value != "":
            fields[name] = (
                value
                if isinstance(value, str)
                else json.dumps(value)
                if isinstance(value, dict | list)
                else str(value)
            )
    fields.setdefault("post_id", f"{file_id}-{line}")
    fields.setdefault("source", source)
    return fields
