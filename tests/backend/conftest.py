"""What the API tests share: a client on the app (lifespan run) and a known set of posts."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.backend.app import create_app
from services.common.db.models import PostId, SentimentAnalysis, SocialMediaPost
from services.common.db.roles import API_ROLE
from services.common.labels import Emotion, Sentiment
from services.common.settings import Settings
from services.launcher.tritonserver import EmbeddedTriton
from tests.support import as_role, free_port

NOW = datetime.now(UTC).replace(microsecond=0)
LABELS = [
    (Sentiment.POSITIVE, Emotion.JOY),
    (Sentiment.NEGATIVE, Emotion.ANGER),
    (Sentiment.NEUTRAL, Emotion.NEUTRAL),
]


async def client_for(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_of(create_app(settings)):
        yield client


async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client on ``app``, its lifespan run (``app.state.backend`` is there meanwhile)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            yield client


@pytest.fixture
async def api(
    settings: Settings, triton: EmbeddedTriton, repository: Path
) -> AsyncIterator[httpx.AsyncClient]:
    served = settings.model_copy(
        update={
            # As the API connects in Compose: its own role, which reads and writes only alerts.
            "database_url": as_role(settings.database_url, API_ROLE),
            "triton_url": triton.url,
            "model_repository": repository,
            "cache_ttl_s": 0,
            "feed_cache_ttl_s": 0,
        }
    )
    async for client in client_for(served):
        yield client


@pytest.fixture
async def posts(session: AsyncSession) -> list[str]:
    """30 posts, one every 10 minutes back from now (the first the newest), three sources, three labels,
    two languages and none, a link on every other; two share one created_at, to test paging ties."""
    ids = []
    analyses = []
    for i in range(30):
        created = NOW - timedelta(minutes=10 * i) if i != 1 else NOW
        sentiment, emotion = LABELS[i % 3]
        post_id = f"api-{i}"
        session.add(
            SocialMediaPost(
                post_id=post_id,
                source=["twitter", "reddit", "mastodon"][i % 3],
                content=f"post number {i}",
                author=f"user{i % 4}",
                created_at=created,
                ingested_at=created,
                lang=["en", "fr", None][i % 3],  # None: stored before languages were
                url=f"https://example.social/@user{i % 4}/{i}" if i % 2 else None,
            )
        )
        session.add(PostId(post_id=post_id, created_at=created))
        analyses.append(
            SentimentAnalysis(
                post_id=post_id,
                created_at=created,
                model_name="minilm-bundle@2",
                sentiment_label=sentiment,
                confidence_score=0.5 + i / 100,
                emotion=emotion,
                analyzed_at=created,
            )
        )
        ids.append(post_id)
    await session.flush()  # the posts first: the analyses refer to them
    session.add_all(analyses)
    await session.commit()
    return ids


EMOTION_OF = {
    Sentiment.POSITIVE: Emotion.JOY,
    Sentiment.NEGATIVE: Emotion.ANGER,
    Sentiment.NEUTRAL: Emotion.NEUTRAL,
}


async def add_posts(
    session: AsyncSession,
    posts: list[tuple[Sentiment, datetime]],
    prefix: str = "seed",
    source: str = "twitter",
) -> list[str]:
    """Analysed posts of the given sentiments and created_at times; their post_ids."""
    ids = [f"{prefix}-{i}" for i in range(len(posts))]
    session.add_all(
        SocialMediaPost(post_id=post_id, source=source, content="text", author="someone", created_at=created)
        for post_id, (_, created) in zip(ids, posts, strict=True)
    )
    session.add_all(
        PostId(post_id=post_id, created_at=created) for post_id, (_, created) in zip(ids, posts, strict=True)
    )
    await session.flush()
    session.add_all(
        SentimentAnalysis(
            post_id=post_id,
            created_at=created,
            model_name="minilm-bundle@2",
            sentiment_label=sentiment,
            confidence_score=0.8,
            emotion=EMOTION_OF[sentiment],
        )
        for post_id, (sentiment, created) in zip(ids, posts, strict=True)
    )
    await session.commit()
    return ids


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[str]:
    """The backend behind a real uvicorn on a free port, in this event loop; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
