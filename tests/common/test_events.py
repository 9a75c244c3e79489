import json

import pytest
from pydantic import ValidationError

from services.common.events import (
    PREVIEW_CHARS,
    AlertEvent,
    ConnectedEvent,
    DeletedEvent,
    MetricsUpdateEvent,
    PostEvent,
    ResyncEvent,
    encode_event,
    parse_event,
    preview,
)

POST = {
    "type": "post",
    "data": {
        "post_id": "rd-42",
        "content": "this is fine",
        "source": "reddit",
        "author": "u_someone",
        "created_at": "2026-11-28T16:00:00Z",
        "sentiment_label": "neutral",
        "confidence_score": 0.71,
        "emotion": "surprise",
        "model_name": "minilm-bundle@1",
        "analyzed_at": "2026-11-28T16:00:01.250000Z",
        "lang": "en",
        "url": "https://www.reddit.com/r/test/comments/rd42/",
        "topics": [3, 7],
    },
}
DELETED = {
    "type": "deleted",
    "data": {"post_id": "rd-42", "source": "reddit", "deleted_at": "2026-11-28T16:05:00Z"},
}
ALERT = {
    "type": "alert",
    "data": {
        "id": 7,
        "alert_type": "high_negative_ratio",
        "threshold_value": 0.6,
        "actual_value": 0.74,
        "window_start": "2026-11-28T15:55:00Z",
        "window_end": "2026-11-28T16:00:00Z",
        "post_count": 230,
        "triggered_at": "2026-11-28T16:00:02Z",
        "details": {"source": "twitter", "negative": 170},
    },
}
COUNTS = {"positive": 1, "negative": 2, "neutral": 3, "total": 6}
METRICS = {
    "type": "metrics_update",
    "data": {"last_minute": COUNTS, "last_hour": COUNTS, "last_24_hours": COUNTS},
    "timestamp": "2026-11-28T16:00:30Z",
}
CONNECTED = {
    "type": "connected",
    "message": "Connected to sentiment updates",
    "timestamp": "2026-11-28T16:00:00Z",
}

RESYNC = {
    "type": "resync",
    "reason": "the subscription went silent",
    "timestamp": "2026-11-28T16:00:45Z",
}


@pytest.mark.parametrize(
    ("shape", "kind"),
    [
        (POST, PostEvent),
        (DELETED, DeletedEvent),
        (ALERT, AlertEvent),
        (METRICS, MetricsUpdateEvent),
        (CONNECTED, ConnectedEvent),
        (RESYNC, ResyncEvent),
    ],
)
def test_each_event_parses_to_its_type_and_encodes_back_unchanged(
    shape: dict[str, object], kind: type
) -> None:
    event = parse_event(json.dumps(shape))
    assert isinstance(event, kind)
    assert json.loads(encode_event(event)) == shape


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"sentiment_label": "happy"}, "post.data.sentiment_label"),
        ({"emotion": "love"}, "post.data.emotion"),
        ({"confidence_score": 1.5}, "post.data.confidence_score"),
        ({"content": "x" * (PREVIEW_CHARS + 1)}, "post.data.content"),
        ({"created_at": "2026-11-28T16:00:00"}, "post.data.created_at"),
        ({"confidence_score": "high"}, "post.data.confidence_score"),
    ],
)
def test_a_bad_post_event_is_refused_naming_the_path(change: dict[str, object], path: str) -> None:
    bad = {"type": "post", "data": {**POST["data"], **change}}  # type: ignore[dict-item]
    with pytest.raises(ValidationError) as caught:
        parse_event(json.dumps(bad))
    assert path in str(caught.value)


def test_fields_it_does_not_know_are_ignored_at_any_depth_and_not_sent_on() -> None:
    """What a replica of a newer version may publish: parsed, the extra fields left out."""
    data = {**METRICS["data"], "last_week": COUNTS, "last_hour": {**COUNTS, "unknown": 0}}  # type: ignore[dict-item]
    newer = {**METRICS, "origin": "worker-2", "data": data}
    assert json.loads(encode_event(parse_event(json.dumps(newer)))) == METRICS
    post = {"type": "post", "data": {**POST["data"], "language": "en"}}  # type: ignore[dict-item]
    assert json.loads(encode_event(parse_event(json.dumps(post)))) == POST


def test_building_an_event_with_a_field_it_does_not_have_is_an_error() -> None:
    with pytest.raises(ValidationError, match="extra"):
        ResyncEvent(reason="x", timestamp="2026-11-28T16:00:00Z", extra=1)  # type: ignore[call-arg]


def test_an_unknown_event_type_is_refused() -> None:
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        parse_event('{"type": "gossip", "data": {}}')


def test_a_negative_count_is_refused() -> None:
    bad = {**METRICS, "data": {**METRICS["data"], "last_hour": {**COUNTS, "total": -1}}}  # type: ignore[dict-item]
    with pytest.raises(ValidationError, match=r"last_hour\.total"):
        parse_event(json.dumps(bad))


def test_a_long_preview_is_cut_to_200_characters_ending_in_an_ellipsis() -> None:
    long = "🙂" * 150 + "a" * 100
    assert preview(long) == long[:199] + "…"
    assert len(preview(long)) == PREVIEW_CHARS
    assert preview("a" * 200) == "a" * 200
    assert preview("short") == "short"
