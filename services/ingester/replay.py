"""Records of a JSON lines or CSV file as stream messages, with a field mapping.

``--map content=text --map author=user.name`` says which of the file's fields fills each message field (a
dotted name reaches into nested JSON objects). Without a mapping a field is read under its own name. A record
without ``post_id`` gets one made of the file's name and its line number; without ``source``, the
``--source`` given; a missing ``created_at`` stays missing, and the record is reported as invalid: a replay
keeps the posts' own times (docs/architecture.md), it never invents them.
"""

import argparse
import asyncio
import csv
import hashlib
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tqdm import tqdm

from services.common.messages import PostMessage
from services.common.settings import Settings
from services.ingester.producer import Pacer, Producer
from services.ingester.source import Source, SourceError

FIELDS = tuple(PostMessage.model_fields)


class ReplayError(SourceError):
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


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path)
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--rate", type=float, help="posts per second (default INGEST_RATE)")
    pace.add_argument("--fast", action="store_true", help="as fast as the backlog allows")
    parser.add_argument(
        "--map", action="append", default=[], metavar="FIELD=NAME", help="where a field comes from"
    )
    parser.add_argument(
        "--source", default="replay", help="source of records that have none (default replay)"
    )
    parser.add_argument("--format", choices=["jsonl", "csv"], help="default: from the file's extension")


async def _run(settings: Settings, args: argparse.Namespace, stop: asyncio.Event) -> Producer:
    mapping = parse_mapping(args.map)
    rate = 0.0 if args.fast else args.rate if args.rate is not None else settings.ingest_rate
    path = args.file.resolve()
    out = Producer.for_settings(settings, rate)
    pacer = Pacer(rate, settings.ingest_jitter, settings.ingest_seed)
    file_id = "replay-" + hashlib.sha256(str(path).encode()).hexdigest()[:8]  # path: absolute
    with tqdm(desc=f"replay {path.name}", unit="post", file=sys.stderr) as bar:
        for line, record in records(path, args.format):
            if stop.is_set():
                break
            bar.update(1)
            if record is None:
                out.tally.invalid += 1
                out.tally.reasons["not a JSON object"] += 1
                continue
            post = out.check(message_fields(record, mapping, line=line, file_id=file_id, source=args.source))
            if post is not None:
                await pacer.wait()
                await out.send(post)
    await out.flush()
    return out


SOURCE = Source("replay", "the posts of a JSON lines or CSV file, with a progress bar", _arguments, _run)
