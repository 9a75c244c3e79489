"""What the API tests share: a client on the app (lifespan run) and a known set of posts."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.backend.app import create_app
from services.common.db.models import SentimentAnalysis, SocialMediaPost
from services.common.inference.embedded import EmbeddedTriton
from services.common.labels import Emotion, Sentiment
from services.common.settings import Settings

NOW = datetime.now(UTC).replace(microsecond=0)
LABELS = [
    (Sentiment.POSITIVE, Emotion.JOY),
    (Sentiment.NEGATIVE, Emotion.ANGER),
    (Sentiment.NEUTRAL, Emotion.NEUTRAL),
]


async def client_for(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


@pytest.fixture
async def api(
    settings: Settings, triton: EmbeddedTriton, repository: Path
) -> AsyncIterator[httpx.AsyncClient]:
    served = settings.model_copy(update={"triton_url": triton.url, "model_repository": repository})
    async for client in client_for(served):
        yield client


@pytest.fixture
async def posts(session: AsyncSession) -> list[str]:
    """30 posts, one every 10 minutes back from now (the first the newest), three sources, three labels;
    two share one created_at, to test paging ties."""
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
            )
        )
        analyses.append(
            SentimentAnalysis(
                post_id=post_id,
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
