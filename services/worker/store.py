"""The worker's writes: every post and analysis of a batch in one transaction, idempotent on ``post_id``."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db.models import SentimentAnalysis, SocialMediaPost
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
ANALYSIS_COLUMNS = ("post_id", "model_name", "sentiment_label", "confidence_score", "emotion", "analyzed_at")


async def stored(session: AsyncSession, post_ids: Sequence[str]) -> dict[str, StoredPost]:
    """The posts among ``post_ids`` that are already stored, with their analyses."""
    if not post_ids:
        return {}
    rows = await session.execute(
        select(SocialMediaPost, SentimentAnalysis)
        .join(SentimentAnalysis, SentimentAnalysis.post_id == SocialMediaPost.post_id)
        .where(SocialMediaPost.post_id.in_(post_ids))
    )
    return {
        post.post_id: StoredPost(
            **{name: getattr(post, name) for name in POST_COLUMNS},
            **{name: getattr(analysis, name) for name in ANALYSIS_COLUMNS[1:]},
        )
        for post, analysis in rows
    }


# Compiled once and cached; executed with a list of rows, SQLAlchemy sends them as multi-row INSERTs
# ("insertmanyvalues"), without compiling a statement per batch. That takes a RETURNING: without one, the
# asyncpg driver runs one INSERT per row, and the rollup's statement trigger would fire once per post.
_INSERT_POSTS = (
    insert(SocialMediaPost)
    .on_conflict_do_nothing(index_elements=[SocialMediaPost.post_id])
    .returning(SocialMediaPost.post_id)
)
_INSERT_ANALYSES = (
    insert(SentimentAnalysis)
    .on_conflict_do_nothing(index_elements=[SentimentAnalysis.post_id])
    .returning(SentimentAnalysis.post_id)
)


async def write(session: AsyncSession, rows: Sequence[StoredPost]) -> set[str]:
    """Insert each post with its analysis in one transaction; returns the post_ids inserted (a post_id
    another writer stored first is skipped, and left to the caller to compare)."""
    if not rows:
        return set()
    async with session.begin():
        conn = await session.connection()
        posts = [{name: getattr(row, name) for name in POST_COLUMNS} for row in rows]
        new = set((await conn.execute(_INSERT_POSTS, posts)).scalars())
        analyses = [
            {name: getattr(row, name) for name in ANALYSIS_COLUMNS} for row in rows if row.post_id in new
        ]
        if analyses:
            await conn.execute(_INSERT_ANALYSES, analyses)
    return new
