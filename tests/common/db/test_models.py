from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db.models import PostId, SentimentAlert, SentimentAnalysis, SocialMediaPost
from services.common.labels import Emotion, Sentiment

# Two days ago, whenever the tests run: a post is stored only in the days kept (RETENTION_DAYS).
WHEN = (datetime.now(UTC) - timedelta(days=2)).replace(hour=16, minute=5, second=0, microsecond=0)


def post(post_id: str = "tw-1", **changes: object) -> SocialMediaPost:
    fields: dict[str, object] = {
        "post_id": post_id,
        "source": "twitter",
        "content": "great game last night",
        "author": "fan",
        "created_at": WHEN,
    }
    return SocialMediaPost(**{**fields, **changes})


def analysis(post_id: str = "tw-1", **changes: object) -> SentimentAnalysis:
    fields: dict[str, object] = {
        "post_id": post_id,
        "created_at": WHEN,
        "model_name": "minilm-bundle@1",
        "sentiment_label": Sentiment.POSITIVE,
        "confidence_score": 0.93,
        "emotion": Emotion.JOY,
    }
    return SentimentAnalysis(**{**fields, **changes})


async def test_a_post_and_its_analysis_are_stored_with_aware_utc_times(session: AsyncSession) -> None:
    session.add(post(created_at=WHEN.astimezone(timezone(timedelta(hours=2)))))
    await session.flush()
    session.add(analysis())
    await session.commit()
    session.expunge_all()

    stored = (await session.execute(select(SocialMediaPost))).scalar_one()
    result = (await session.execute(select(SentimentAnalysis))).scalar_one()
    assert stored.created_at == WHEN
    assert stored.created_at.utcoffset() == timedelta(0)
    assert stored.ingested_at.tzinfo is not None
    assert result.sentiment_label == Sentiment.POSITIVE
    assert result.emotion == Emotion.JOY
    assert result.analyzed_at.tzinfo is not None


async def test_a_post_is_kept_once_per_post_id_and_day(session: AsyncSession) -> None:
    session.add(post())
    await session.commit()
    session.add(post(content="a different text under the same id"))
    with pytest.raises(IntegrityError, match=r"social_media_posts_\d{8}_pkey"):
        await session.commit()


async def test_the_registry_keeps_a_post_id_once_whatever_its_day(session: AsyncSession) -> None:
    # The partitioned tables cannot hold post_id unique on its own: the registry does (the worker's
    # transaction inserts there first; tests/worker/test_store.py has the redeliveries).
    session.add(PostId(post_id="tw-1", created_at=WHEN))
    await session.commit()
    session.add(PostId(post_id="tw-1", created_at=WHEN - timedelta(days=1)))
    with pytest.raises(IntegrityError, match="pk_post_ids"):
        await session.commit()


async def test_a_post_has_at_most_one_analysis(session: AsyncSession) -> None:
    session.add(post())
    await session.flush()
    session.add(analysis())
    await session.commit()
    session.add(analysis(sentiment_label=Sentiment.NEGATIVE))
    with pytest.raises(IntegrityError, match=r"sentiment_analysis_\d{8}_pkey"):
        await session.commit()


async def test_deleting_a_post_deletes_its_analysis_and_its_post_id(session: AsyncSession) -> None:
    session.add_all([post(), PostId(post_id="tw-1", created_at=WHEN)])
    await session.flush()
    session.add(analysis())
    await session.commit()
    await session.execute(text("DELETE FROM social_media_posts"))
    await session.commit()
    assert (await session.execute(select(SentimentAnalysis))).first() is None
    assert (await session.execute(select(PostId))).first() is None


@pytest.mark.parametrize(
    ("column", "value", "constraint"),
    [
        ("label", "happy", "ck_sentiment_analysis_sentiment_label"),
        ("emotion", "love", "ck_sentiment_analysis_emotion"),
        ("confidence", 1.01, "ck_sentiment_analysis_confidence_range"),
    ],
)
async def test_the_database_refuses_values_outside_the_contract(
    session: AsyncSession, column: str, value: object, constraint: str
) -> None:
    session.add(post())
    await session.commit()
    values: dict[str, object] = {"label": "neutral", "emotion": "neutral", "confidence": 0.5, column: value}
    insert = text(
        "INSERT INTO sentiment_analysis "
        "(post_id, created_at, model_name, sentiment_label, emotion, confidence_score) "
        "VALUES ('tw-1', :when, 'm', :label, :emotion, :confidence)"
    )
    with pytest.raises(IntegrityError, match=constraint):
        await session.execute(insert, {**values, "when": WHEN})


async def test_the_orm_refuses_an_unknown_label_before_the_database_sees_it(session: AsyncSession) -> None:
    session.add(post())
    await session.flush()
    session.add(analysis(sentiment_label="happy"))
    with pytest.raises(StatementError, match="'happy' is not among the defined enum values"):
        await session.flush()


async def test_an_alert_keeps_its_details(session: AsyncSession) -> None:
    alert = SentimentAlert(
        alert_type="high_negative_ratio",
        threshold_value=0.6,
        actual_value=0.75,
        window_start=WHEN - timedelta(minutes=5),
        window_end=WHEN,
        post_count=120,
        details={"source": "reddit", "negative": 90},
    )
    session.add(alert)
    await session.commit()
    session.expunge_all()
    stored = (await session.execute(select(SentimentAlert))).scalar_one()
    assert stored.details == {"source": "reddit", "negative": 90}
    assert stored.triggered_at.tzinfo is not None


async def test_an_alert_window_must_not_end_before_it_starts(session: AsyncSession) -> None:
    session.add(
        SentimentAlert(
            alert_type="high_negative_ratio",
            threshold_value=0.6,
            actual_value=0.7,
            window_start=WHEN,
            window_end=WHEN - timedelta(minutes=1),
            post_count=3,
        )
    )
    with pytest.raises(IntegrityError, match="ck_sentiment_alerts_window_order"):
        await session.commit()
