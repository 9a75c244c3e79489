"""The classifier the worker calls: Triton, with an LLM provider behind a circuit breaker and as a second
opinion on low-confidence posts (docs/llm-fallback.md). Its caller never asks which one answered."""

import logging
import time
from collections.abc import Sequence

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.common.aio import chunks
from services.common.inference.breaker import Breaker
from services.common.inference.llm import (
    BudgetSpent,
    LlmClassifier,
    LlmInvalidAnswer,
    LlmUnavailable,
    MinuteBudget,
)
from services.common.inference.triton_client import TritonClassifier
from services.common.inference.types import Classification, InferenceUnavailable, Prediction
from services.common.names import RedisNames
from services.common.settings import Settings

log = logging.getLogger("classifier")


class ClassifierMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.inference_seconds = Histogram(
            "worker_inference_seconds", "One batched inference call", registry=registry
        )
        self.breaker_open = Gauge(
            "worker_triton_breaker_open",
            "1 while Triton is down and the LLM provider classifies",
            registry=registry,
        )
        self.by_provider = Counter(
            "worker_posts_by_llm",
            "Posts classified by the LLM provider while Triton was down",
            registry=registry,
        )
        self.reviews = Counter(
            "worker_second_opinions",
            "Low-confidence posts sent for the provider's opinion, by outcome",
            ["outcome"],
            registry=registry,
        )


class FallbackClassifier:
    """Triton first. With a provider: ``TRITON_BREAKER_FAILURES`` Triton outages in a row open the breaker,
    and the provider classifies, Triton being tried again every ``TRITON_PROBE_S``; posts under
    ``LLM_REVIEW_BELOW`` confidence get the provider's labels within ``LLM_REVIEW_PER_MIN`` requests a
    minute. Without one, Triton's outage is raised (``InferenceUnavailable``) for the caller to wait out."""

    def __init__(
        self,
        primary: TritonClassifier,
        fallback: LlmClassifier | None,
        breaker: Breaker,
        *,
        review_below: float = 0.0,
        review_budget: MinuteBudget | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.breaker = breaker
        self.review_below = review_below
        self.review_budget = review_budget
        self.metrics = ClassifierMetrics(registry or CollectorRegistry())

    @classmethod
    def from_settings(
        cls, settings: Settings, redis: aioredis.Redis, registry: CollectorRegistry
    ) -> "FallbackClassifier":
        primary = TritonClassifier(
            settings.triton_url,
            settings.model_repository,
            timeout_s=settings.triton_timeout_s,
            request_size=settings.triton_request_size,
        )
        fallback = None if settings.llm_provider == "none" else LlmClassifier(settings, redis, registry)
        budget_key = RedisNames(settings.redis_key_prefix).llm_reviews
        return cls(
            primary,
            fallback,
            Breaker(settings.triton_breaker_failures, settings.triton_probe_s),
            review_below=settings.llm_review_below,
            review_budget=MinuteBudget(redis, budget_key, settings.llm_review_per_min),
            registry=registry,
        )

    @property
    def falling_back(self) -> bool:
        """True while Triton is down and the provider classifies."""
        return self.fallback is not None and self.breaker.open

    @property
    def model_name(self) -> str:
        return self.fallback.model_name if self.fallback and self.falling_back else self.primary.model_name

    async def healthy(self) -> bool:
        return await self.primary.healthy() or (self.fallback is not None and await self.fallback.healthy())

    async def classify(self, texts: Sequence[str]) -> Classification:
        if self.fallback is None or self.breaker.try_triton():
            try:
                result = await self._triton(texts)
            except InferenceUnavailable as exc:
                if self.fallback is None or not self._triton_failed(exc):
                    raise  # the caller waits it out
            else:
                return await self._second_opinions(texts, result)
        assert self.fallback is not None
        result = await self.fallback.classify(texts)
        self.metrics.by_provider.inc(len(texts))
        return result

    async def _triton(self, texts: Sequence[str]) -> Classification:
        started = time.perf_counter()
        result = await self.primary.classify(texts)
        self.metrics.inference_seconds.observe(time.perf_counter() - started)
        if self.fallback is not None and self.breaker.succeeded():
            log.warning("Triton answers again: classifying with it, not %s", self.fallback.model_name)
            self.metrics.breaker_open.set(0)
        return result

    def _triton_failed(self, exc: InferenceUnavailable) -> bool:
        """Count a Triton outage; True when the breaker is (now) open and the provider takes over."""
        if self.breaker.failed():
            assert self.fallback is not None
            log.warning("Triton is down (%s): classifying with %s", exc, self.fallback.model_name)
            self.metrics.breaker_open.set(1)
        return self.breaker.open

    async def _second_opinions(self, texts: Sequence[str], result: Classification) -> Classification:
        """The provider's labels for the posts under LLM_REVIEW_BELOW confidence, as far as the budget goes;
        a post it cannot answer for keeps the model's labels."""
        if self.fallback is None or self.review_below <= 0:
            return result
        predictions: list[Prediction] = list(result.predictions)
        low = [i for i, p in enumerate(predictions) if p.sentiment_confidence < self.review_below]
        for part in chunks(low, self.fallback.batch_size):
            try:
                review = await self.fallback.classify([texts[i] for i in part], budget=self.review_budget)
            except BudgetSpent:
                self.metrics.reviews.labels("over_budget").inc(len(low) - low.index(part[0]))
                break
            except (LlmUnavailable, LlmInvalidAnswer) as exc:
                log.warning("no second opinion for %d posts: %s", len(part), exc)
                self.metrics.reviews.labels("failed").inc(len(part))
                continue
            for i, prediction in zip(part, review.predictions, strict=True):
                predictions[i] = prediction
            self.metrics.reviews.labels("answered").inc(len(part))
        return Classification(predictions, result.model_name, result.model_version)

    async def close(self) -> None:
        await self.primary.close()
        if self.fallback is not None:
            await self.fallback.close()
