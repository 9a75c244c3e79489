"""Who and what a topic is: ``/api/topics/{id}/authors`` and ``/api/topics/{id}/hashtags``, its top authors
and hashtags over the last hours, each with its posts and their sentiment (docs/topics.md).

Both read the topic's tags (``post_topics``, which carry each post's sentiment) over the window, through
their index by topic and time, and join each tag to its post (for the author) or to its post's terms (for
the hashtags, ``post_terms``, written with the post) by the key they share, in the same days' partitions.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute

from services.backend.access import api_key
from services.backend.aggregation import SENTIMENTS
from services.backend.deps import BackendDep
from services.backend.schemas import SentimentTotals, TopicAuthors, TopicHashtags
from services.backend.topics import TopicId, topic_done
from services.common.db.models import PostTerm, PostTopic, SocialMediaPost
from services.common.timestamps import utcnow

router = APIRouter(dependencies=[Depends(api_key)])
Hours = Annotated[int, Query(ge=1, le=168, description="the window: the last this many hours")]
Limit = Annotated[int, Query(ge=1, le=100, description="how many, the most posts first")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such topic"}}


@dataclass(frozen=True)
class Window:
    topic_id: int
    hours: int
    limit: int


async def _top(
    request: Request,
    backend: BackendDep,
    asked: Window,
    name: InstrumentedAttribute[str],
    answer: type[TopicAuthors] | type[TopicHashtags],
    each: str,
) -> Response:
    """The topic's top ``name``s (a column of the posts or of their terms) over the last hours, as ``answer``,
    whose list is ``each`` + "s", each named by ``each``."""
    table = name.class_
    topic_id, hours, limit = asked.topic_id, asked.hours, asked.limit

    async def build() -> Any:
        end = utcnow()
        start = end - timedelta(hours=hours)
        # The tag's post's row, in its day's partition (the window bounds it to the window's days).
        joined = (
            (table.post_id == PostTopic.post_id)
            & (table.created_at == PostTopic.created_at)
            & table.created_at.between(start, end)
        )
        if table is PostTerm:
            joined &= PostTerm.term.startswith("#", autoescape=True)
        async with backend.reads.connect() as conn:
            rows = await conn.execute(
                select(
                    name.label("name"),
                    func.count().label("posts"),
                    *(func.count().filter(PostTopic.sentiment_label == s).label(s) for s in SENTIMENTS),
                )
                .select_from(PostTopic)
                .join(table, joined)
                .where(PostTopic.topic_id == topic_id, PostTopic.created_at.between(start, end))
                .group_by(name)
                .order_by(func.count().desc(), name)
                .limit(limit)
            )
            counted = [
                {
                    each: row["name"],
                    "posts": row["posts"],
                    "sentiment": SentimentTotals(**{s: row[s] for s in SENTIMENTS}),
                    "net_sentiment": round((row["positive"] - row["negative"]) / row["posts"], 4),
                }
                for row in rows.mappings()
            ]
        return answer.model_validate(
            {"topic": topic_id, "hours": hours, "start_date": start, "end_date": end, f"{each}s": counted}
        )

    if await topic_done(backend, request, topic_id) is None:  # a topic just deleted: never from the cache
        raise HTTPException(404, f"no topic {topic_id}")
    return await backend.cache.response(request, build)


@router.get("/api/topics/{topic_id}/authors", response_model=TopicAuthors, responses=NOT_FOUND)
async def topic_authors(
    request: Request, topic_id: TopicId, backend: BackendDep, hours: Hours = 24, limit: Limit = 10
) -> Response:
    """The topic's top authors over the last ``hours``."""
    return await _top(
        request, backend, Window(topic_id, hours, limit), SocialMediaPost.author, TopicAuthors, "author"
    )


@router.get("/api/topics/{topic_id}/hashtags", response_model=TopicHashtags, responses=NOT_FOUND)
async def topic_hashtags(
    request: Request, topic_id: TopicId, backend: BackendDep, hours: Hours = 24, limit: Limit = 10
) -> Response:
    """The topic's top hashtags over the last ``hours``: a post counts once for each of its hashtags."""
    return await _top(
        request, backend, Window(topic_id, hours, limit), PostTerm.term, TopicHashtags, "hashtag"
    )
