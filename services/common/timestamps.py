"""UTC time, the one way every service writes and reads it (ISO 8601 with an offset)."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_utc(value: object) -> datetime:
    """An aware datetime in UTC from an ISO 8601 string or an aware datetime.

    Naive times are refused: a post's hour decides which bucket and alert window it lands in, so a
    guessed zone would put it in the wrong one.
    """
    if isinstance(value, str):
        parsed = _from_iso(value)
    elif isinstance(value, datetime):
        parsed = value
    else:
        raise ValueError(f"expected an ISO 8601 string, got {type(value).__name__}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("timestamp has no UTC offset (add 'Z' or '+00:00')")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-01:00 is past the last datetime once in UTC
        raise ValueError("timestamp is out of range once converted to UTC") from None


def format_utc(value: datetime) -> str:
    """ISO 8601 in UTC with a 'Z', microseconds kept: ``2026-11-28T16:05:00.123456Z``."""
    return parse_utc(value).isoformat().replace("+00:00", "Z")


UtcDatetime = Annotated[datetime, BeforeValidator(parse_utc), PlainSerializer(format_utc, return_type=str)]
"""A pydantic field type: accepts ISO 8601 with an offset, holds UTC, serialises with 'Z'."""


def parse_query_utc(value: object) -> datetime:
    """As ``parse_utc``, but a time without an offset is read as UTC: what a query parameter asks for only
    moves a window, and clients of such APIs often send ``2026-11-28T16:00:00``."""
    if isinstance(value, str):
        parsed = _from_iso(value)
        return parse_utc(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
    return parse_utc(value)


def _from_iso(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not an ISO 8601 timestamp: {text[:64]!r}") from None


QueryDatetime = Annotated[datetime, BeforeValidator(parse_query_utc)]
"""A query parameter's type: ISO 8601, with an offset or read as UTC without one, held in UTC. Stream
messages and request bodies use ``UtcDatetime``, which refuses a time without an offset."""
