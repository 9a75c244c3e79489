"""The steps of a batch that need no service: sorting out what was read, and what each post's event is."""

from collections.abc import Sequence
from datetime import datetime

from services.common.events import PostData, preview
from services.common.inference.types import Prediction
from services.common.messages import DeleteMessage, MessageError, PostMessage, parse_entry
from services.worker.store import StoredPost
from services.worker.stream import Entry

Valid = tuple[Entry, PostMessage]
Refused = tuple[Entry, str]  # an entry and the reason it is dead-lettered


def validate(
    batch: list[Entry], retention_days: int
) -> tuple[list[Valid], list[DeleteMessage], list[Refused]]:
    """The entries that are posts (of the days kept), the deletes, and the others with what is wrong with
    them."""
    valid, deletes, dead = [], [], []
    for entry in batch:
        try:
            message = parse_entry(entry.fields, retention_days)
        except MessageError as exc:
            dead.append((entry, str(exc)))
            continue
        if isinstance(message, DeleteMessage):
            deletes.append(message)
        else:
            valid.append((entry, message))
    return valid, deletes, dead


def first_unknown(valid: list[Valid], known: dict[str, StoredPost]) -> list[Valid]:
    """The posts not stored yet, the first of repeats within the batch."""
    new: dict[str, Valid] = {}
    for entry, post in valid:
        if post.post_id not in known:
            new.setdefault(post.post_id, (entry, post))
    return list(new.values())


def events_for(
    valid: list[Valid], known: dict[str, StoredPost], deleted: set[str] | frozenset[str] = frozenset()
) -> tuple[list[PostData], list[Refused]]:
    """Each post's event, from the stored row whoever stored it; a post deleted at its source has none, and
    a post_id stored with other content is refused."""
    events: dict[str, PostData] = {}
    refused = []
    for entry, post in valid:
        row = known.get(post.post_id)
        if post.post_id in deleted:
            continue
        if row is not None and row.content == post.content:
            events[post.post_id] = event_of(row)
        else:
            refused.append((entry, f"post_id {post.post_id!r} is already stored with different content"))
    return list(events.values()), refused


def event_of(row: StoredPost) -> PostData:
    """A stored post as its ``post`` event carries it (the content cut to its preview)."""
    return PostData(
        post_id=row.post_id,
        content=preview(row.content),
        source=row.source,
        author=row.author,
        created_at=row.created_at,
        sentiment_label=row.sentiment_label,
        confidence_score=row.confidence_score,
        emotion=row.emotion,
        model_name=row.model_name,
        analyzed_at=row.analyzed_at,
        lang=row.lang,
        url=row.url,
        topics=list(row.topics),
    )


def analysed(new: Sequence[Valid], predictions: Sequence[Prediction], at: datetime) -> list[StoredPost]:
    """The rows to store for the new posts and their predictions."""
    return [
        StoredPost(
            **{name: getattr(post, name) for name in PostMessage.model_fields},
            ingested_at=entry.ingested_at,
            model_name=p.model_name,
            sentiment_label=p.sentiment,
            confidence_score=min(max(p.sentiment_confidence, 0.0), 1.0),
            emotion=p.emotion,
            analyzed_at=at,
        )
        for (entry, post), p in zip(new, predictions, strict=True)
    ]
