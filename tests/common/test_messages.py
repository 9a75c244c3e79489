from datetime import UTC, datetime, timedelta, timezone
from typing import cast

import pytest
import redis.asyncio as aioredis

from services.common.messages import (
    CONTENT_MAX_CHARS,
    DeleteMessage,
    MessageError,
    PostMessage,
    parse_entry,
)
from services.common.names import RedisNames

GOOD = {
    "post_id": "tw-1865432",
    "source": "twitter",
    "content": "Loving the new release 🎉 #launch @team",
    "author": "ada_l",
    "created_at": "2026-11-28T16:05:00.123456Z",
}


def fields_at_fault(error: MessageError) -> set[str]:
    return {e.field for e in error.errors}


def test_a_good_message_parses_and_round_trips() -> None:
    message = PostMessage.parse(GOOD)
    assert message.created_at == datetime(2026, 11, 28, 16, 5, 0, 123456, tzinfo=UTC)
    assert message.to_stream() == GOOD
    assert PostMessage.parse(message.to_stream()) == message


def test_an_offset_is_converted_to_utc() -> None:
    message = PostMessage.parse({**GOOD, "created_at": "2026-11-28T18:05:00+02:00"})
    assert message.created_at == datetime(2026, 11, 28, 16, 5, tzinfo=UTC)
    assert message.to_stream()["created_at"] == "2026-11-28T16:05:00Z"


def test_aware_datetimes_are_accepted_from_python_producers() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))
    message = PostMessage(**{**GOOD, "created_at": when})
    assert message.created_at == datetime(2026, 1, 2, 8, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("missing", ["post_id", "source", "content", "author", "created_at"])
def test_a_missing_field_is_named(missing: str) -> None:
    fields = {k: v for k, v in GOOD.items() if k != missing}
    with pytest.raises(MessageError) as caught:
        PostMessage.parse(fields)
    assert fields_at_fault(caught.value) == {missing}
    assert f"{missing}: required" in str(caught.value)


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(MessageError) as caught:
        PostMessage.parse({"source": "twitter", "content": "", "author": "x", "created_at": "yesterday"})
    assert fields_at_fault(caught.value) == {"post_id", "content", "created_at"}


@pytest.mark.parametrize(
    ("field", "value", "complaint"),
    [
        ("created_at", "2026-11-28T16:05:00", "no UTC offset"),
        ("created_at", "28/11/2026 16:05", "not an ISO 8601 timestamp"),
        ("created_at", "", "not an ISO 8601 timestamp"),
        ("created_at", 1764345900, "expected an ISO 8601 string"),
        ("created_at", "9999-12-31T23:59:59-01:00", "out of range once converted to UTC"),
        ("created_at", "0001-01-01T00:00:00+01:00", "out of range once converted to UTC"),
        ("content", "x" * (CONTENT_MAX_CHARS + 1), f"at most {CONTENT_MAX_CHARS} characters"),
        ("content", "", "at least 1 character"),
        ("content", "  \n\t ", "is blank"),
        ("content", "bad\x00byte", "NUL"),
        ("content", 42, "valid string"),
        ("author", "a" * 129, "at most 128 characters"),
        ("post_id", "has space", "pattern"),
        ("post_id", "p" * 129, "at most 128 characters"),
        ("source", "Twitter!", "pattern"),
        ("source", None, "valid string"),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(field: str, value: object, complaint: str) -> None:
    with pytest.raises(MessageError) as caught:
        PostMessage.parse({**GOOD, field: value})
    assert fields_at_fault(caught.value) == {field}
    assert complaint in str(caught.value)


def test_content_at_the_limit_is_accepted() -> None:
    assert len(PostMessage.parse({**GOOD, "content": "é" * CONTENT_MAX_CHARS}).content) == CONTENT_MAX_CHARS


def test_unknown_fields_are_ignored() -> None:
    assert PostMessage.parse({**GOOD, "mood": "sunny"}).to_stream() == GOOD


def test_invalid_utf8_from_the_stream_is_named() -> None:
    raw = {k.encode(): v.encode() for k, v in GOOD.items()}
    raw[b"content"] = b"caf\xe9 \xff"
    with pytest.raises(MessageError) as caught:
        PostMessage.from_stream(raw)
    assert fields_at_fault(caught.value) == {"content"}
    assert "not valid UTF-8 (byte 3)" in str(caught.value)


async def test_a_message_survives_a_trip_through_the_real_stream(
    redis: aioredis.Redis, names: RedisNames
) -> None:
    sent = PostMessage.parse({**GOOD, "content": "naïve café — 東京 🌧️ #rain"})
    entry_id = await redis.xadd(names.stream, sent.to_stream())  # type: ignore[arg-type]
    [(read_id, fields)] = cast(list[tuple[bytes, dict[bytes, bytes]]], await redis.xrange(names.stream))
    assert read_id == entry_id
    assert PostMessage.from_stream(fields) == sent


def test_where_posts_are_stored_one_older_than_the_days_kept_is_refused() -> None:
    # The producers and the worker check with RETENTION_DAYS; the schema alone has no such bound.
    old = {**GOOD, "created_at": "2001-09-09T01:46:40Z"}
    assert PostMessage.parse(old).created_at.year == 2001
    with pytest.raises(MessageError) as refused:
        PostMessage.parse(old, retention_days=30)
    assert str(refused.value) == (
        "created_at: is older than the 30 days kept (RETENTION_DAYS): a post that old is not stored"
    )
    recent = {**GOOD, "created_at": (datetime.now(UTC) - timedelta(days=29)).isoformat()}
    assert PostMessage.parse(recent, retention_days=30)
    raw = {key.encode(): value.encode() for key, value in old.items()}
    with pytest.raises(MessageError, match="RETENTION_DAYS"):
        PostMessage.from_stream(raw, retention_days=30)


@pytest.mark.parametrize(
    ("given", "kept"), [("en", "en"), ("en-US", "en"), ("pt_BR", "pt"), ("ZH-Hant", "zh"), ("und", "und")]
)
def test_a_language_is_kept_as_its_primary_subtag(given: str, kept: str) -> None:
    assert PostMessage.parse({**GOOD, "lang": given}).lang == kept
    assert PostMessage.parse({**GOOD, "lang": given}).to_stream()["lang"] == kept


@pytest.mark.parametrize("given", ["english", "e", "1234", "", "en US"])
def test_a_language_that_is_no_tag_is_refused_by_name(given: str) -> None:
    with pytest.raises(MessageError) as caught:
        PostMessage.parse({**GOOD, "lang": given})
    assert fields_at_fault(caught.value) == {"lang"}
    assert "not a BCP 47 language tag" in str(caught.value)


def test_a_link_is_kept_when_it_is_http() -> None:
    url = "https://bsky.app/profile/did:plc:abc/post/3lplngryztc2f"
    assert PostMessage.parse({**GOOD, "url": url}).url == url
    assert PostMessage.parse(GOOD).url is None
    assert "url" not in PostMessage.parse(GOOD).to_stream(), "a field without a value is left out"


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "ftp://example.com/x", "https://", "/relative/path", "https://a b.com"]
)
def test_a_link_that_is_not_http_is_refused_by_name(url: str) -> None:
    with pytest.raises(MessageError) as caught:
        PostMessage.parse({**GOOD, "url": url})
    assert fields_at_fault(caught.value) == {"url"}


def test_an_entry_is_a_post_or_a_delete_by_its_kind() -> None:
    assert isinstance(parse_entry({k.encode(): v.encode() for k, v in GOOD.items()}), PostMessage)
    assert isinstance(parse_entry({**GOOD, "kind": "post"}), PostMessage)
    gone = parse_entry(
        {"kind": "delete", "post_id": "tw-1", "source": "twitter", "deleted_at": GOOD["created_at"]}
    )
    assert gone == DeleteMessage(
        post_id="tw-1", source="twitter", deleted_at=datetime(2026, 11, 28, 16, 5, 0, 123456, tzinfo=UTC)
    )
    assert parse_entry(gone.to_stream()) == gone


def test_a_delete_without_its_fields_or_of_an_unknown_kind_names_them() -> None:
    with pytest.raises(MessageError) as caught:
        parse_entry({"kind": "delete", "source": "twitter"})
    assert fields_at_fault(caught.value) == {"post_id", "deleted_at"}
    with pytest.raises(MessageError) as caught:
        parse_entry({**GOOD, "kind": "edit"})
    assert fields_at_fault(caught.value) == {"kind"}
