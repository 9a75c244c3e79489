"""The worker's writes: every post and analysis of a batch in one transaction, idempotent on ``post_id``.

The posts and analyses are partitioned by ``created_at``, where PostgreSQL can keep (post_id, created_at)
unique but not post_id alone: the registry ``post_ids`` does that. Its row is inserted first; a post_id
already there (stored by anyone, with any ``created_at``) is skipped, and a second writer of the same
post_id waits on the first's row until it commits.

A post its source deleted leaves a tombstone (``delete``), and a post_id with a tombstone is never stored:
``write`` looks for tombstones after its registry rows are in, and ``delete`` inserts a registry row of its
own first, so that each waits for the other's transaction on that row, and whichever commits second sees
what the first did (docs/pipeline.md, "Deletes")."""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import delete as sql_delete
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.db.models import PostId, PostTombstone, PostTopic, SentimentAnalysis, SocialMediaPost
from services.common.labels import Emotion, Sentiment
from services.common.messages import DeleteMessage
from services.worker.tagging import tag


@dataclass(frozen=True)
class StoredPost:
    """A post with its analysis, as the two tables hold them."""

    post_id: str
    source: str
    content: str
    author: str
    created_at: datetime
    ingested_at: datetime
    model_name: str
    sentiment_label: Sentiment
    confidence_score: float
    emotion: Emotion
    analyzed_at: datetime
    lang: str | None = None
    url: str | None = None
    topics: tuple[int, ...] = ()  # the topics it is tagged with, in order (not a column of the posts)


POST_COLUMNS = ("post_id", "source", "content", "author", "created_at", "ingested_at", "lang", "url")
ANALYSIS_COLUMNS = (
    "post_id",
    "created_at",
    "model_name",
    "sentiment_label",
    "confidence_score",
    "emotion",
    "analyzed_at",
)


async def stored(session: AsyncSession, post_ids: Sequence[str]) -> dict[str, StoredPost]:
    """The posts among ``post_ids`` that are already stored, with their analyses."""
    if not post_ids:
        return {}
    # Through the registry: it gives each post's created_at, so each look-up reads one day's partition.
    rows = await session.execute(
        select(SocialMediaPost, SentimentAnalysis)
        .select_from(PostId)
        .join(
            SocialMediaPost,
            (SocialMediaPost.post_id == PostId.post_id) & (SocialMediaPost.created_at == PostId.created_at),
        )
        .join(
            SentimentAnalysis,
            (SentimentAnalysis.post_id == PostId.post_id)
            & (SentimentAnalysis.created_at == PostId.created_at),
        )
        .where(PostId.post_id.in_(post_ids))
    )
    found = rows.all()
    tagged = await _topics_of(session, [(post.post_id, post.created_at) for post, _ in found])
    return {
        post.post_id: StoredPost(
            **{name: getattr(post, name) for name in POST_COLUMNS},
            **{name: getattr(analysis, name) for name in ANALYSIS_COLUMNS[2:]},
            topics=tuple(tagged.get(post.post_id, ())),
        )
        for post, analysis in found
    }


async def _topics_of(session: AsyncSession, keys: list[tuple[str, datetime]]) -> dict[str, list[int]]:
    """The topics of the stored posts (post_id, created_at), each post's in order."""
    if not keys:
        return {}
    rows = await session.execute(
        select(PostTopic.post_id, PostTopic.topic_id)
        .where(
            PostTopic.post_id.in_({k for k, _ in keys}),
            PostTopic.created_at.in_({at for _, at in keys}),  # their days' partitions alone
        )
        .order_by(PostTopic.topic_id)
    )
    topics: dict[str, list[int]] = {}
    for row in rows.mappings():
        topics.setdefault(row["post_id"], []).append(row["topic_id"])
    return topics


# Compiled once and cached; executed with a list of rows, SQLAlchemy sends them as multi-row INSERTs
# ("insertmanyvalues"), without compiling a statement per batch. That takes a RETURNING: without one, the
# asyncpg driver runs one INSERT per row, and the rollup's statement trigger would fire once per post.
_REGISTER = insert(PostId).on_conflict_do_nothing(index_elements=[PostId.post_id]).returning(PostId.post_id)
_INSERT_POSTS = insert(SocialMediaPost).returning(SocialMediaPost.post_id)
_INSERT_ANALYSES = insert(SentimentAnalysis).returning(SentimentAnalysis.post_id)


# Each post's hashtags and mentions, as migration 0010's post_terms(content) finds them.
_INSERT_TERMS = text("""
INSERT INTO post_terms (post_id, created_at, term)
SELECT p.post_id, p.created_at, t.term
FROM unnest(CAST(:post_id AS text[]), CAST(:created_at AS timestamptz[]), CAST(:content AS text[]))
    AS p (post_id, created_at, content),
LATERAL post_terms(p.content) AS t (term)
""")
_TOMBSTONE = insert(PostTombstone).on_conflict_do_nothing(index_elements=[PostTombstone.post_id])


@dataclass(frozen=True)
class Written:
    inserted: set[str]  # the post_ids stored by this write
    deleted: set[str]  # those not stored because their source deleted them (a tombstone)
    topics: dict[str, list[int]] = field(default_factory=dict)  # the topics each inserted post matched


async def write(session: AsyncSession, rows: Sequence[StoredPost]) -> Written:
    """Insert each post with its analysis, its terms and its topic tags in one transaction, but for posts with a
    tombstone; a post_id another writer stored first is skipped, and left to the caller to compare."""
    if not rows:
        return Written(set(), set())
    topics: dict[str, list[int]] = {}
    async with session.begin():
        conn = await session.connection()
        # In post_id order, as ``delete`` takes them: two transactions never wait on each other in a circle.
        ids = sorted(({"post_id": r.post_id, "created_at": r.created_at} for r in rows), key=_by_id)
        new = set((await conn.execute(_REGISTER, ids)).scalars())
        deleted = await _tombstoned(conn, new) if new else set()
        if deleted:
            await conn.execute(sql_delete(PostId).where(PostId.post_id.in_(deleted)))
            new -= deleted
        if new:
            kept = [row for row in rows if row.post_id in new]
            await conn.execute(_INSERT_POSTS, [{n: getattr(row, n) for n in POST_COLUMNS} for row in kept])
            await conn.execute(
                _INSERT_ANALYSES, [{n: getattr(row, n) for n in ANALYSIS_COLUMNS} for row in kept]
            )
            await conn.execute(
                _INSERT_TERMS,
                {
                    "post_id": [r.post_id for r in kept],
                    "created_at": [r.created_at for r in kept],
                    "content": [r.content for r in kept],
                },
            )
            topics = await tag(conn, kept)
    return Written(new, deleted, topics)


async def delete(session: AsyncSession, deletes: Sequence[DeleteMessage]) -> list[DeleteMessage]:
    """Keep a tombstone for each post_id and delete its post, if stored, in one transaction (its analysis,
    its counts in the rollup and its registry row go with it: migration 0005's trigger); returns the
    deletes (the first of each post_id) whose posts were stored."""
    if not deletes:
        return []
    first: dict[str, DeleteMessage] = {}
    for d in deletes:
        first.setdefault(d.post_id, d)
    ids = sorted(first)
    async with session.begin():
        conn = await session.connection()
        await conn.execute(
            _TOMBSTONE,
            [{"post_id": i, "source": first[i].source, "deleted_at": first[i].deleted_at} for i in ids],
        )
        # A registry row of our own, deleted below: inserting it waits for a transaction storing the same
        # post_id until that one ends, so its post is here to delete, or it saw our tombstone.
        await conn.execute(
            insert(PostId).on_conflict_do_nothing(index_elements=[PostId.post_id]),
            [{"post_id": i, "created_at": first[i].deleted_at} for i in ids],
        )
        found = (
            await conn.execute(select(PostId.post_id, PostId.created_at).where(PostId.post_id.in_(ids)))
        ).all()
        removed = set(
            (
                await conn.execute(
                    sql_delete(SocialMediaPost)
                    .where(
                        SocialMediaPost.post_id.in_(ids),
                        # each post's day: the look-up reads those days' partitions alone
                        SocialMediaPost.created_at.in_({at for _, at in found}),
                    )
                    .returning(SocialMediaPost.post_id)
                )
            ).scalars()
        )
        await conn.execute(
            sql_delete(PostId).where(PostId.post_id.in_(ids))
        )  # ours; the trigger took the rest
    return [first[i] for i in ids if i in removed]


async def write_or_find(
    session: AsyncSession, rows: list[StoredPost]
) -> tuple[dict[str, StoredPost], set[str]]:
    """Store the rows; returns them as stored (ours, and those another worker stored between our look-up
    and our write), and the post_ids not stored because their source deleted them."""
    written = await write(session, rows)
    found = {
        row.post_id: replace(row, topics=tuple(written.topics.get(row.post_id, ())))
        for row in rows
        if row.post_id in written.inserted
    }
    others = [row.post_id for row in rows if row.post_id not in written.inserted | written.deleted]
    if others:
        found |= await stored(session, others)
    return found, written.deleted


async def _tombstoned(conn: AsyncConnection, post_ids: set[str]) -> set[str]:
    rows = await conn.execute(select(PostTombstone.post_id).where(PostTombstone.post_id.in_(post_ids)))
    return set(rows.scalars())


def _by_id(row: dict[str, object]) -> str:
    return str(row["post_id"])
