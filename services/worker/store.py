"""The worker's writes: every post and analysis of a batch in one transaction, idempotent on ``post_id``.

The posts and analyses are partitioned by ``created_at``, where PostgreSQL can keep (post_id, created_at)
unique but not post_id alone: the registry ``post_ids`` does that. Its row is inserted first; a post_id
already there (stored by anyone, with any ``created_at``) is skipped, and a second writer of the same
post_id waits on the first's row until it commits."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db.models import PostId, SentimentAnalysis, SocialMediaPost
from services.common.labels import Emotion, Sentiment


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


POST_COLUMNS = ("post_id", "source", "content", "author", "created_at", "ingested_at")
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
    return {
        post.post_id: StoredPost(
            **{name: getattr(post, name) for name in POST_COLUMNS},
            **{name: getattr(analysis, name) for name in ANALYSIS_COLUMNS[2:]},
        )
        for post, analysis in rows
    }


# Compiled once and cached; executed with a list of rows, SQLAlchemy sends them as multi-row INSERTs
# ("insertmanyvalues"), without compiling a statement per batch. That takes a RETURNING: without one, the
# asyncpg driver runs one INSERT per row, and the rollup's statement trigger would fire once per post.
_REGISTER = insert(PostId).on_conflict_do_nothing(index_elements=[PostId.post_id]).returning(PostId.post_id)
_INSERT_POSTS = insert(SocialMediaPost).returning(SocialMediaPost.post_id)
_INSERT_ANALYSES = insert(SentimentAnalysis).returning(SentimentAnalysis.post_id)


async def write(session: AsyncSession, rows: Sequence[StoredPost]) -> set[str]:
    """Insert each post with its analysis in one transaction; returns the post_ids inserted (a post_id
    another writer stored first is skipped, and left to the caller to compare)."""
    if not rows:
        return set()
    async with session.begin():
        conn = await session.connection()
        ids = [{"post_id": row.post_id, "created_at": row.created_at} for row in rows]
        new = set((await conn.execute(_REGISTER, ids)).scalars())
        if new:
            kept = [row for row in rows if row.post_id in new]
            await conn.execute(_INSERT_POSTS, [{n: getattr(row, n) for n in POST_COLUMNS} for row in kept])
            await conn.execute(
                _INSERT_ANALYSES, [{n: getattr(row, n) for n in ANALYSIS_COLUMNS} for row in kept]
            )
    return new
