"""The high-negative-ratio alert rule (docs/api.md), evaluated by one backend replica at a time: each check
runs in one transaction holding a PostgreSQL advisory lock (tried, never waited for), so the cooldown, read
inside the lock, holds across replicas."""

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import redis.asyncio as aioredis
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from services.backend.aggregation import SentimentAggregator
from services.common.db.models import SentimentAlert
from services.common.events import AlertData, AlertEvent, encode_event
from services.common.names import RedisNames
from services.common.settings import Settings
from services.common.timestamps import utcnow

log = logging.getLogger("backend.alerts")

HIGH_NEGATIVE_RATIO = "high_negative_ratio"
# The advisory lock's key (any bigint the platform uses for nothing else); locks are per database.
LOCK_KEY = 0x5E_A1E27  # "sentiment alert"


@dataclass(frozen=True)
class Rule:
    window: timedelta
    threshold: float
    min_posts: int
    cooldown: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> "Rule":
        return cls(
            window=timedelta(minutes=settings.alert_window_minutes),
            threshold=settings.alert_negative_ratio_threshold,
            min_posts=settings.alert_min_posts,
            cooldown=timedelta(minutes=settings.alert_cooldown_minutes),
        )


def negative_ratio(positive: int, negative: int) -> float:
    """negative/positive; with no positives, the negative count (so 10 negatives and none positive is 10)."""
    return negative / positive if positive else float(negative)


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500 or exc.response.status_code == 429
    return isinstance(exc, httpx.TransportError)


class AlertService:
    def __init__(self, settings: Settings, engine: AsyncEngine, redis: aioredis.Redis) -> None:
        self.settings, self.engine, self.redis = settings, engine, redis
        self.rule = Rule.from_settings(settings)
        self.aggregator = SentimentAggregator(engine)
        self.names = RedisNames(settings.redis_key_prefix)

    async def run(self) -> None:
        """Evaluate every ALERT_CHECK_INTERVAL_SECONDS until cancelled; a failed turn is logged, not fatal."""
        while True:
            await asyncio.sleep(self.settings.alert_check_interval_seconds)
            try:
                await self.evaluate()
            except Exception:
                log.exception(
                    "alert evaluation failed; next try in %.0f s", self.settings.alert_check_interval_seconds
                )

    async def evaluate(self, now: datetime | None = None) -> AlertData | None:
        """One turn: the alert raised, or None (no condition, cooldown, too few posts, or another replica's
        turn). The row is committed before the event is published and the webhook called."""
        now = now or utcnow()
        async with self.engine.begin() as conn:
            if not await conn.scalar(select(func.pg_try_advisory_xact_lock(LOCK_KEY))):
                log.debug("another replica is evaluating the alert rule")
                return None
            alert = await self._check(conn, now)
        if alert is not None:
            log.warning(
                "alert %s: negative/positive %.2f > %.2f over %d posts",
                alert.alert_type,
                alert.actual_value,
                alert.threshold_value,
                alert.post_count,
            )
            await self._publish(alert)
            await self._post_webhook(alert)
        return alert

    async def _check(self, conn: AsyncConnection, now: datetime) -> AlertData | None:
        rule, start = self.rule, now - self.rule.window
        counts = await self.aggregator.sentiment_counts(start, now, None)
        total = sum(counts.values())
        ratio = negative_ratio(counts["positive"], counts["negative"])
        if total < rule.min_posts or ratio <= rule.threshold:
            return None
        recent = await conn.scalar(
            select(func.count())
            .select_from(SentimentAlert)
            .where(
                SentimentAlert.alert_type == HIGH_NEGATIVE_RATIO,
                SentimentAlert.triggered_at > now - rule.cooldown,
            )
        )
        if recent:
            log.info(
                "negative/positive %.2f over the threshold, but an alert was raised within the cooldown",
                ratio,
            )
            return None
        row = (
            await conn.execute(
                insert(SentimentAlert)
                .values(
                    alert_type=HIGH_NEGATIVE_RATIO,
                    threshold_value=rule.threshold,
                    actual_value=round(ratio, 4),
                    window_start=start,
                    window_end=now,
                    post_count=total,
                    triggered_at=now,
                    details={"counts": counts, "window_minutes": rule.window.total_seconds() / 60},
                )
                .returning(SentimentAlert)
            )
        ).one()
        return AlertData.model_validate(row, from_attributes=True)

    async def _publish(self, alert: AlertData) -> None:
        try:
            await self.redis.publish(self.names.channel, encode_event(AlertEvent(data=alert)))
        except Exception as exc:  # noqa: BLE001 - the row is committed; live clients miss only the event
            log.error("alert %d saved but not published (Redis: %s)", alert.id, exc)

    async def _post_webhook(self, alert: AlertData) -> None:
        url = self.settings.alert_webhook_url.get_secret_value()
        if not url:
            return
        try:
            async with httpx.AsyncClient(timeout=self.settings.alert_webhook_timeout_s) as client:
                async for attempt in AsyncRetrying(
                    retry=retry_if_exception(_retryable),
                    stop=stop_after_attempt(self.settings.alert_webhook_retries + 1),
                    wait=wait_exponential(multiplier=0.5, max=10),
                    reraise=True,
                ):
                    with attempt:
                        response = await client.post(url, json=alert.model_dump(mode="json"))
                        response.raise_for_status()
        except httpx.HTTPError as exc:
            # Neither the URL nor httpx's message, which repeats it: a chat webhook's URL is its password.
            why = (
                f"HTTP {exc.response.status_code}"
                if isinstance(exc, httpx.HTTPStatusError)
                else type(exc).__name__
            )
            log.error("alert %d: the webhook (ALERT_WEBHOOK_URL) failed: %s", alert.id, why)
