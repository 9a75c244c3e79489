"""The stream message: what producers XADD to ``social_posts_stream`` and the worker reads back.

Fields (docs/architecture.md): ``post_id``, ``source``, ``content``, ``author``, ``created_at``, and optionally
``lang`` and ``url``. Every value is a UTF-8 string on the wire. An entry whose ``kind`` is ``delete`` is a
``DeleteMessage`` instead: its source says the post was deleted there (``post_id``, ``source``, ``deleted_at``).
A message that breaks the schema raises ``MessageError``, which names each field at fault; it is the
message's own fault, never worth a retry.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import ErrorDetails

from services.common.timestamps import UtcDatetime, utcnow

POST_ID_MAX_CHARS = 128
SOURCE_MAX_CHARS = 32
AUTHOR_MAX_CHARS = 128
CONTENT_MAX_CHARS = 10_000
URL_MAX_CHARS = 2048
LANG_MAX_CHARS = 8
LANG_PATTERN = r"^([a-z]{2,3}|und)$"  # BCP 47's primary language subtag, lower case
UNDETERMINED = "und"  # BCP 47's tag for a language that could not be told (a few words, only emoji)
# The ``kind`` field of a stream entry; an entry without one is a post (what every producer sent before).
KIND_POST = "post"
KIND_DELETE = "delete"
# How far ahead of now a post may be dated: clocks disagree by seconds, sources' by minutes at worst. A post
# dated later would sit atop the newest-first feed until that day, and count in no window of today.
CREATED_AT_MAX_AHEAD = timedelta(hours=1)


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class MessageError(ValueError):
    """A message that can never be processed as it is (dead-letter it, or answer 422)."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(error) for error in errors))


PostIdText = Annotated[
    str, Field(min_length=1, max_length=POST_ID_MAX_CHARS, pattern=r"^[^\s\x00-\x1f\x7f]+$")
]
SourceLabel = Annotated[
    str, Field(min_length=1, max_length=SOURCE_MAX_CHARS, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
]


class PostMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    post_id: PostIdText
    source: SourceLabel
    content: str = Field(min_length=1, max_length=CONTENT_MAX_CHARS)
    author: str = Field(min_length=1, max_length=AUTHOR_MAX_CHARS)
    created_at: UtcDatetime
    # The post's language, as BCP 47's primary subtag in lower case ("en" of "en-US"), or "und".
    lang: str | None = None
    url: str | None = Field(default=None, max_length=URL_MAX_CHARS)  # the post at its source: http(s) only

    @field_validator("post_id", "source", "content", "author", mode="before")
    @classmethod
    def _unicode(cls, value: object) -> object:
        # A JSON string can hold half a surrogate pair ("\ud800"), which no UTF-8 text (Redis, PostgreSQL,
        # the answer) can carry.
        at = lone_surrogate(value) if isinstance(value, str) else None
        if at is not None:
            raise ValueError(f"is not valid Unicode (a lone surrogate at character {at})")
        return value

    @field_validator("created_at")
    @classmethod
    def _in_window(cls, value: datetime, info: ValidationInfo) -> datetime:
        if value > utcnow() + CREATED_AT_MAX_AHEAD:
            hours = CREATED_AT_MAX_AHEAD.total_seconds() / 3600
            raise ValueError(f"is more than {hours:g} hour(s) ahead of now: not a real post's time")
        # Where the post would be stored (the worker, and the producers checking for it), a post older than
        # the days kept is refused: its day has no partition, and would be dropped anyway.
        days = (info.context or {}).get("retention_days")
        if days is not None and value < utcnow() - timedelta(days=days):
            raise ValueError(
                f"is older than the {days} days kept (RETENTION_DAYS): a post that old is not stored"
            )
        return value

    @field_validator("lang", mode="before")
    @classmethod
    def _primary_subtag(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        primary = primary_subtag(value)
        if primary is None:
            raise ValueError(f"{value[:20]!r} is not a BCP 47 language tag (such as en, pt-BR or und)")
        return primary

    @field_validator("url")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        return None if value is None else checked_link(value)

    @field_validator("content", "author")
    @classmethod
    def _printable(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("contains a NUL character")
        if not value.strip():
            raise ValueError("is blank")
        return value

    @classmethod
    def parse(cls, fields: Mapping[str, object], retention_days: int | None = None) -> "PostMessage":
        """Validate a mapping of field values; MessageError names every field at fault. With
        ``retention_days``, a post older than that many days is refused too."""
        try:
            return cls.model_validate(fields, context={"retention_days": retention_days})
        except ValidationError as exc:
            raise MessageError([_field_error(err) for err in exc.errors()]) from None

    @classmethod
    def from_stream(
        cls, fields: Mapping[bytes, bytes] | Mapping[str, str], retention_days: int | None = None
    ) -> "PostMessage":
        """Decode an entry as redis-py returns it (bytes or str) and validate it."""
        return cls.parse(_decoded(fields), retention_days)

    def to_stream(self) -> dict[str, str]:
        """The entry's fields for XADD (a field without a value is left out)."""
        return self.model_dump(mode="json", exclude_none=True)


class DeleteMessage(BaseModel):
    """The post ``post_id`` was deleted at its source: the worker deletes it, its analysis and its counts,
    and keeps a tombstone so that it is never stored again (docs/pipeline.md)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: Literal["delete"] = "delete"
    post_id: PostIdText
    source: SourceLabel
    deleted_at: UtcDatetime

    def to_stream(self) -> dict[str, str]:
        return self.model_dump(mode="json")


StreamMessage = PostMessage | DeleteMessage


def parse_entry(
    fields: Mapping[bytes, bytes] | Mapping[str, str], retention_days: int | None = None
) -> StreamMessage:
    """A stream entry as the message its ``kind`` says (a post when it has none)."""
    decoded = _decoded(fields)
    kind = decoded.get("kind", KIND_POST)
    if kind == KIND_POST:
        return PostMessage.parse(decoded, retention_days)
    if kind != KIND_DELETE:
        raise MessageError([FieldError("kind", f"is {kind!r}: {KIND_POST!r} or {KIND_DELETE!r} expected")])
    try:
        return DeleteMessage.model_validate(decoded)
    except ValidationError as exc:
        raise MessageError([_field_error(err) for err in exc.errors()]) from None


def primary_subtag(tag: str) -> str | None:
    """A BCP 47 tag's primary language subtag in lower case ("pt" of "pt-BR"); None when it has none."""
    subtag = tag.strip().replace("_", "-").split("-")[0].lower()
    return subtag if re.fullmatch(LANG_PATTERN, subtag) else None


_NOT_IN_A_LINK = re.compile(r"[\s\x00-\x1f]")  # white space (Unicode's, as str.isspace) or a control


def checked_link(url: str) -> str:
    """``url`` if it is an http(s) link to a host, else ValueError saying why."""
    if _NOT_IN_A_LINK.search(url):
        raise ValueError("is not a link: it contains white space or control characters")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValueError(f"is not a link ({exc})") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// link to a host")
    return url


def _decoded(fields: Mapping[bytes, bytes] | Mapping[str, str]) -> dict[str, str]:
    """An entry's fields as text; MessageError names each value that is not UTF-8."""
    decoded: dict[str, str] = {}
    errors: list[FieldError] = []
    for raw_key, raw_value in fields.items():
        key = raw_key.decode("utf-8", "replace") if isinstance(raw_key, bytes) else raw_key
        if isinstance(raw_value, bytes):
            try:
                decoded[key] = raw_value.decode("utf-8")
            except UnicodeDecodeError as exc:
                errors.append(FieldError(key, f"not valid UTF-8 (byte {exc.start})"))
                continue
        else:
            decoded[key] = raw_value
    if errors:
        raise MessageError(errors)
    return decoded


def lone_surrogate(text: str) -> int | None:
    """Where ``text`` holds half a surrogate pair, which UTF-8 cannot carry; None when it holds none."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def _field_error(err: ErrorDetails) -> FieldError:
    field = str(err["loc"][0]) if err["loc"] else "message"
    message = "required" if err["type"] == "missing" else err["msg"].removeprefix("Value error, ")
    return FieldError(field, message)
