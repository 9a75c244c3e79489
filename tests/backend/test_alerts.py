"""AlertService on the real PostgreSQL and Redis: the rule at and around its threshold, the window, the
cooldown, the advisory lock between two services, the alert event and the webhook."""

import asyncio
from datetime import datetime, timedelta

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.backend.alerts import HIGH_NEGATIVE_RATIO, LOCK_KEY, AlertService, negative_ratio
from services.common.db.models import SentimentAlert
from services.common.events import AlertEvent, parse_event
from services.common.labels import Sentiment
from services.common.names import RedisNames
from services.common.settings import Settings
from tests.backend.conftest import NOW, add_posts
from tests.support import Webhook

P, N, U = Sentiment.POSITIVE, Sentiment.NEGATIVE, Sentiment.NEUTRAL


def window(*labels: Sentiment, minutes_ago: float = 1) -> list[tuple[Sentiment, datetime]]:
    return [(label, NOW - timedelta(minutes=minutes_ago)) for label in labels]


@pytest.fixture
def service(settings: Settings, engine: AsyncEngine, redis: aioredis.Redis) -> AlertService:
    return AlertService(settings, engine, redis)


async def alert_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(SentimentAlert)) or 0)


def test_the_ratio_counts_no_positives_as_the_negative_count() -> None:
    assert negative_ratio(positive=3, negative=6) == 2.0
    assert negative_ratio(positive=0, negative=7) == 7.0
    assert negative_ratio(positive=0, negative=0) == 0.0


@pytest.mark.parametrize(
    ("labels", "raised"),
    [
        ([P] * 3 + [N] * 6 + [U], False),  # exactly 2.0: not strictly greater
        ([P] * 3 + [N] * 7, True),  # 2.33
        ([N] * 9, False),  # 9.0, but fewer than 10 posts
        ([N] * 10, True),  # no positives: ratio 10
        ([P] * 5 + [U] * 20, False),
    ],
)
async def test_the_rule_at_and_around_the_threshold(
    service: AlertService, session: AsyncSession, engine: AsyncEngine, labels: list[Sentiment], raised: bool
) -> None:
    await add_posts(session, window(*labels))
    alert = await service.evaluate(NOW)
    assert (alert is not None) == raised
    assert await alert_rows(engine) == int(raised)


async def test_an_alert_row_says_what_was_seen_and_the_event_goes_out(
    service: AlertService, session: AsyncSession, redis: aioredis.Redis, names: RedisNames
) -> None:
    await add_posts(session, window(*[P] * 2 + [N] * 9 + [U] * 3))
    await add_posts(session, window(*[P] * 20, minutes_ago=6), prefix="old")  # before the 5-minute window
    async with redis.pubsub() as pubsub:
        await pubsub.subscribe(names.channel)
        await pubsub.get_message(timeout=1)  # the subscribe confirmation
        alert = await service.evaluate(NOW)
        message = await pubsub.get_message(timeout=5, ignore_subscribe_messages=True)
    assert alert is not None
    assert alert.alert_type == HIGH_NEGATIVE_RATIO
    assert (alert.threshold_value, alert.actual_value, alert.post_count) == (2.0, 4.5, 14)
    assert (alert.window_start, alert.window_end, alert.triggered_at) == (
        NOW - timedelta(minutes=5),
        NOW,
        NOW,
    )
    assert alert.details["counts"] == {"positive": 2, "negative": 9, "neutral": 3}
    assert message is not None
    event = parse_event(message["data"])
    assert isinstance(event, AlertEvent)
    assert event.data == alert


async def test_no_repeat_within_the_cooldown(
    settings: Settings, engine: AsyncEngine, redis: aioredis.Redis, session: AsyncSession
) -> None:
    service = AlertService(settings.model_copy(update={"alert_cooldown_minutes": 10}), engine, redis)
    await add_posts(session, window(*[N] * 12))
    assert await service.evaluate(NOW) is not None
    assert await service.evaluate(NOW + timedelta(minutes=1)) is None  # still negative, within 10 minutes
    await add_posts(session, window(*[N] * 12, minutes_ago=-10), prefix="later")
    assert await service.evaluate(NOW + timedelta(minutes=10, seconds=1)) is not None
    assert await alert_rows(engine) == 2


async def test_one_service_evaluates_while_another_holds_the_lock(
    settings: Settings, engine: AsyncEngine, redis: aioredis.Redis, session: AsyncSession
) -> None:
    first, second = (AlertService(settings, engine, redis) for _ in range(2))
    await add_posts(session, window(*[N] * 12))
    async with engine.connect() as holder:
        await holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
        assert await first.evaluate(NOW) is None  # skipped its turn, did not wait
        await holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
    raised = await asyncio.gather(*(s.evaluate(NOW) for s in (first, second, first, second)))
    assert sum(alert is not None for alert in raised) == 1
    assert await alert_rows(engine) == 1


async def test_the_webhook_gets_the_alert_after_retries(
    settings: Settings, engine: AsyncEngine, redis: aioredis.Redis, session: AsyncSession
) -> None:
    with Webhook() as hook:
        hook.script = [503, "slow"]  # a 5xx, then a timeout, then 200
        configured = settings.model_copy(
            update={
                "alert_webhook_url": SecretStr(hook.url),
                "alert_webhook_timeout_s": 0.5,
                "alert_webhook_retries": 3,
            }
        )
        await add_posts(session, window(*[N] * 12))
        alert = await AlertService(configured, engine, redis).evaluate(NOW)
    assert alert is not None
    assert [status for status, _ in hook.calls] == [503, "slow", 200]
    assert all(body == alert.model_dump(mode="json") for _, body in hook.calls)


async def test_a_webhook_that_keeps_failing_does_not_lose_the_alert_nor_log_its_url(
    settings: Settings,
    engine: AsyncEngine,
    redis: aioredis.Redis,
    session: AsyncSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with Webhook() as hook:
        hook.script = [500] * 10
        url = SecretStr(hook.url + "?signature=XXXXsecretXXXX")
        configured = settings.model_copy(update={"alert_webhook_url": url, "alert_webhook_retries": 2})
        await add_posts(session, window(*[N] * 12))
        alert = await AlertService(configured, engine, redis).evaluate(NOW)
    assert alert is not None
    assert len(hook.calls) == 3  # the call and two retries
    assert await alert_rows(engine) == 1
    failed = [r.getMessage() for r in caplog.records if "webhook" in r.getMessage()]
    assert failed, "the failure is logged"
    assert all("XXXXsecretXXXX" not in line and "127.0.0.1" not in line for line in failed), failed
