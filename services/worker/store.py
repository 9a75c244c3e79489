"""The worker's writes: every post and analysis of a batch in one transaction, idempotent on ``post_id``."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db.models import SentimentAnalysis, SocialMediaPost
from services.common.events import PostData, preview
from services.common.inference.client import Prediction
from services.common.messages import PostMessage


@dataclass(frozen=True)
class Stored:
    """A post as the database holds it, with its analysis: what its ``post`` event carries."""

    content: str
    event: PostData


def event_of(post: PostMessage, prediction: Prediction, model_name: str, analyzed_at: datetime) -> PostData:
    return PostData(
        post_id=post.post_id,
        content=preview(post.content),
        source=post.source,
        author=post.author,
        created_at=post.created_at,
        sentiment_label=prediction.sentiment,
        confidence_score=min(max(prediction.sentiment_confidence, 0.0), 1.0),
        emotion=prediction.emotion,
        model_name=model_name,
        analyzed_at=analyzed_at,
    )


async def stored(session: AsyncSession, post_ids: Sequence[str]) -> dict[str, Stored]:
    """The posts among ``post_ids`` that are already stored, with their analyses."""
    if not post_ids:
        return {}
    rows = await session.execute(
        select(SocialMediaPost, SentimentAnalysis)
        .join(SentimentAnalysis, SentimentAnalysis.post_id == SocialMediaPost.post_id)
        .where(SocialMediaPost.post_id.in_(post_ids))
    )
    out: dict[str, Stored] = {}
    for post, analysis in rows:
        out[post.post_id] = Stored(
            post.content,
            PostData(
                post_id=post.post_id,
                content=preview(post.content),
                source=post.source,
                author=post.author,
                created_at=post.created_at,
                sentiment_label=analysis.sentiment_label,
                confidence_score=analysis.confidence_score,
                emotion=analysis.emotion,
                model_name=analysis.model_name,
                analyzed_at=analysis.analyzed_at,
            ),
        )
    return out


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


async def write(session: AsyncSession, rows: Sequence[tuple[PostMessage, datetime, PostData]]) -> set[str]:
    """Insert each (post, ingested_at, event) with its analysis in one transaction; returns the post_ids
    inserted (a post_id another writer stored first is skipped, and left to the caller to compare)."""
    if not rows:
        return set()
    async with session.begin():
        conn = await session.connection()
        inserted = await conn.execute(
            _INSERT_POSTS,
            [
                {
                    "post_id": post.post_id,
                    "source": post.source,
                    "content": post.content,
                    "author": post.author,
                    "created_at": post.created_at,
                    "ingested_at": ingested_at,
                }
                for post, ingested_at, _ in rows
            ],
        )
        new = set(inserted.scalars())
        analyses = [
            {
                "post_id": event.post_id,
                "model_name": event.model_name,
                "sentiment_label": event.sentiment_label,
                "confidence_score": event.confidence_score,
                "emotion": event.emotion,
                "analyzed_at": event.analyzed_at,
            }
            for _, _, event in rows
            if event.post_id in new
        ]
        if analyses:
            await conn.execute(_INSERT_ANALYSES, analyses)
    return new
