"""Topic tags (docs/topics.md): each new post tagged with the topics it matches, in the transaction that
stores it, and each new or changed topic backfilled over the stored posts.

Never by neither: the API changes a topic under an exclusive advisory lock (TOPIC_LOCK, services/backend/topics.py),
and a transaction that tags takes it shared, in a statement of its own, before the statement that tags. So a
transaction that tagged without the change committed before the change did, and the backfill, whose every
step reads after the change committed, sees its posts; one that tags after sees the change. The tags of a
topic's earlier revision are deleted by the change itself, under the same lock. Both paths insert with ON
CONFLICT DO NOTHING, and the rollup counts only the rows inserted: a post tagged by both counts once.

A backfill step reads one day of posts through the search index (``ix_social_media_posts_search``, on each
post's stored ``search_vector``), newest day first, and moves the topic's cursor (``backfill_before``) in the
same transaction: a stopped worker leaves the cursor where its last step committed, and any worker takes it
up from there.
"""

# ruff: noqa: S608 - the statements are built from this module's constants, never from input

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from prometheus_client import Counter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.db.models import TOPIC_LOCK, stored_span
from services.worker.outage import is_outage

if TYPE_CHECKING:
    from services.worker.store import StoredPost

TAKE_SHARED = text("SELECT pg_advisory_xact_lock_shared(:key)").bindparams(key=TOPIC_LOCK)
log = logging.getLogger("worker")
BACKFILL_EVERY_S = 1.0  # how often a worker looks for a topic to backfill when none is due
DAY = timedelta(days=1)
TICK = timedelta(microseconds=1)

# A topic's narrowing, for ``t`` a topic and ``p`` a post.
_NARROWED = "(t.sources IS NULL OR p.source = ANY (t.sources)) AND (t.languages IS NULL OR p.lang = ANY (t.languages))"
_TAG_COLUMNS = "topic_id, post_id, created_at, source, lang, sentiment_label, emotion, confidence_score"

# The batch's posts, each vector made once (MATERIALIZED), against every topic's query (made once by
# PostgreSQL when the topic was written), and nothing made at all when there are no topics.
_TAG_NEW = text(f"""
WITH t AS MATERIALIZED (SELECT id, match, sources, languages FROM topics),
p AS MATERIALIZED (
    SELECT p.*, listening_vector(p.content) AS v
    FROM unnest(
        CAST(:post_id AS text[]), CAST(:created_at AS timestamptz[]), CAST(:source AS text[]),
        CAST(:lang AS text[]), CAST(:content AS text[]), CAST(:sentiment AS text[]),
        CAST(:emotion AS text[]), CAST(:confidence AS float8[])
    ) AS p (post_id, created_at, source, lang, content, sentiment_label, emotion, confidence_score)
    WHERE EXISTS (SELECT FROM t)
)
INSERT INTO post_topics ({_TAG_COLUMNS})
SELECT t.id, p.post_id, p.created_at, p.source, p.lang, p.sentiment_label, p.emotion, p.confidence_score
FROM p JOIN t ON p.v @@ t.match AND {_NARROWED}
ON CONFLICT DO NOTHING
RETURNING post_id, topic_id
""")


async def tag(conn: AsyncConnection, rows: Sequence["StoredPost"]) -> dict[str, list[int]]:
    """Tag the posts just stored in ``conn``'s transaction; each post_id's topics (none: left out)."""
    if not rows:
        return {}
    await conn.execute(TAKE_SHARED)
    found = await conn.execute(
        _TAG_NEW,
        {
            "post_id": [r.post_id for r in rows],
            "created_at": [r.created_at for r in rows],
            "source": [r.source for r in rows],
            "lang": [r.lang or "" for r in rows],
            "content": [r.content for r in rows],
            "sentiment": [r.sentiment_label.value for r in rows],
            "emotion": [r.emotion.value for r in rows],
            "confidence": [r.confidence_score for r in rows],
        },
    )
    topics: dict[str, list[int]] = {}
    for row in found.mappings():
        topics.setdefault(row["post_id"], []).append(row["topic_id"])
    return {post_id: sorted(ids) for post_id, ids in topics.items()}


_DUE = text(
    "SELECT id, revision, backfill_before FROM topics WHERE backfilled < revision ORDER BY id LIMIT 1"
    " FOR UPDATE SKIP LOCKED"
)
# One day of posts, through the search index.
_TAG_STORED = text(f"""
INSERT INTO post_topics ({_TAG_COLUMNS})
SELECT t.id, p.post_id, p.created_at, p.source, coalesce(p.lang, ''), a.sentiment_label, a.emotion,
       a.confidence_score
FROM topics AS t
JOIN social_media_posts AS p ON p.search_vector @@ t.match
JOIN sentiment_analysis AS a ON a.post_id = p.post_id AND a.created_at = p.created_at
WHERE t.id = :topic AND p.created_at >= :low AND p.created_at < :high
  AND a.created_at >= :low AND a.created_at < :high
  AND (t.sources IS NULL OR p.source = ANY (t.sources))
  AND (t.languages IS NULL OR coalesce(p.lang, '') = ANY (t.languages))
ON CONFLICT DO NOTHING
""")
_MOVE = text("UPDATE topics SET backfill_before = :before WHERE id = :topic")
_FINISH = text("UPDATE topics SET backfilled = :revision, backfill_before = NULL WHERE id = :topic")


@dataclass(frozen=True)
class Step:
    topic_id: int
    tagged: int  # tags inserted by this step
    finished: bool


async def backfill_step(conn: AsyncConnection) -> Step | None:
    """One day of one due topic's backfill, in a transaction of its own; None when none is due (or every
    due one is another worker's now)."""
    async with conn.begin():
        await conn.execute(TAKE_SHARED)
        due = (await conn.execute(_DUE)).first()
        if due is None:
            return None
        span = (await conn.execute(stored_span())).one()
        before = due.backfill_before or (span.newest + TICK if span.newest else None)
        if before is None or span.oldest is None or before <= span.oldest:
            await conn.execute(_FINISH, {"revision": due.revision, "topic": due.id})
            return Step(due.id, 0, True)
        low = max(_midnight(before - TICK), span.oldest)
        done = await conn.execute(_TAG_STORED, {"topic": due.id, "low": low, "high": before})
        await conn.execute(_MOVE, {"before": low, "topic": due.id})
        return Step(due.id, done.rowcount, False)


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


async def keep_backfilling(
    engine: AsyncEngine, sleep: Callable[[float], Awaitable[bool]], tagged: Counter
) -> None:
    """Backfill steps one after another while topics are due, else a look every BACKFILL_EVERY_S, until
    ``sleep`` says the worker is stopping. A step that fails is taken up again by the next."""
    while True:
        try:
            async with engine.connect() as conn:
                step = await backfill_step(conn)
        except Exception as exc:
            if not is_outage(exc):  # housekeeping: never worth stopping the worker for
                log.exception("a backfill step failed")
            step = None
        if step is not None:
            tagged.inc(step.tagged)
            if step.finished:
                log.info("topic %d backfilled", step.topic_id)
        if await sleep(0.0 if step is not None else BACKFILL_EVERY_S):
            return
