"""The messages on pub/sub ``sentiment_updates`` and the WebSocket ``/ws/sentiment`` (docs/architecture.md).

The event shape is flat (``sentiment_label`` beside ``post_id``), as the original specification has it; the
REST post shape nests the analysis under ``"sentiment"`` instead.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, TypeAdapter

from services.common.labels import Emotion, Sentiment
from services.common.messages import DeleteMessage
from services.common.timestamps import UtcDatetime

PREVIEW_CHARS = 200


def preview(content: str) -> str:
    """The part of a post's content that travels in a ``post`` event: all of it up to PREVIEW_CHARS
    characters, else the first PREVIEW_CHARS - 1 and "…" (the dashboard cuts REST posts the same way)."""
    return content if len(content) <= PREVIEW_CHARS else content[: PREVIEW_CHARS - 1] + "…"


class _Shape(BaseModel):
    # Forbidden where the code builds an event (a misspelt field is an error); ignored where one is parsed
    # (``parse_event``), so that a replica of another version can add a field without being refused.
    model_config = ConfigDict(frozen=True, extra="forbid")


class PostData(_Shape):
    post_id: str
    content: str = Field(max_length=PREVIEW_CHARS)
    source: str
    author: str
    created_at: UtcDatetime
    sentiment_label: Sentiment
    confidence_score: float = Field(ge=0.0, le=1.0)
    emotion: Emotion
    model_name: str
    analyzed_at: UtcDatetime
    lang: str | None = None  # BCP 47 primary subtag, "und" when it could not be told; None: not recorded
    url: str | None = None  # the post at its source
    topics: list[int] = Field(default_factory=list)  # the ids of the topics it matched, in order


class DeletedData(_Shape):
    post_id: str
    source: str
    deleted_at: UtcDatetime

    @classmethod
    def of(cls, message: DeleteMessage) -> "DeletedData":
        return cls(post_id=message.post_id, source=message.source, deleted_at=message.deleted_at)


class AlertData(_Shape):
    id: int
    alert_type: str
    threshold_value: float
    actual_value: float
    window_start: UtcDatetime
    window_end: UtcDatetime
    post_count: NonNegativeInt
    triggered_at: UtcDatetime
    details: dict[str, Any]


class SentimentCounts(_Shape):
    positive: NonNegativeInt
    negative: NonNegativeInt
    neutral: NonNegativeInt
    total: NonNegativeInt


class MetricsWindows(_Shape):
    last_minute: SentimentCounts
    last_hour: SentimentCounts
    last_24_hours: SentimentCounts


class ConnectedEvent(_Shape):
    type: Literal["connected"] = "connected"
    message: str
    timestamp: UtcDatetime


class PostEvent(_Shape):
    type: Literal["post"] = "post"
    data: PostData


class DeletedEvent(_Shape):
    """A post its source deleted, and that was stored: gone from the database; clients drop it too."""

    type: Literal["deleted"] = "deleted"
    data: DeletedData


class AlertEvent(_Shape):
    type: Literal["alert"] = "alert"
    data: AlertData


class MetricsUpdateEvent(_Shape):
    type: Literal["metrics_update"] = "metrics_update"
    data: MetricsWindows
    timestamp: UtcDatetime


class ResyncEvent(_Shape):
    """From the backend to its clients after its subscription was lost or went silent and is back: the events
    published meanwhile never reached them, so they reload what they show."""

    type: Literal["resync"] = "resync"
    reason: str
    timestamp: UtcDatetime


Event = Annotated[
    ConnectedEvent | PostEvent | DeletedEvent | AlertEvent | MetricsUpdateEvent | ResyncEvent,
    Field(discriminator="type"),
]
_EVENT: TypeAdapter[Event] = TypeAdapter(Event)  # type: ignore[arg-type, unused-ignore]  # some pydantic releases type it as a value


def parse_event(raw: str | bytes) -> Event:
    """One event from its JSON text, fields it does not know ignored (a newer replica may send more);
    pydantic's ValidationError names the path at fault."""
    return _EVENT.validate_json(raw, extra="ignore")


def encode_event(event: Event) -> str:
    """The JSON text that goes on the channel and the WebSocket."""
    return event.model_dump_json()
