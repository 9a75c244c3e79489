"""The second classifier: an LLM provider over an OpenAI-compatible chat-completions API (docs/llm-fallback.md).

Invalid answers are asked again once, then raised as ``LlmInvalidAnswer`` (the posts' failure); a provider
that does not answer is ``LlmUnavailable`` (an outage). The API key is never logged.
"""

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
import openai
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Counter, Histogram
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from services.common.aio import chunks, gather_all
from services.common.inference.types import Classification, Prediction
from services.common.labels import Emotion, Sentiment, to_emotion, to_sentiment
from services.common.names import RedisNames
from services.common.settings import Settings

log = logging.getLogger("llm")


@dataclass(frozen=True)
class Provider:
    base_url: str
    model: str


PROVIDERS = {
    "groq": Provider("https://api.groq.com/openai/v1", "llama-3.1-8b-instant"),
    "openai": Provider("https://api.openai.com/v1", "gpt-4o-mini"),
    "ollama": Provider("http://127.0.0.1:11434/v1", "llama3.2"),
}

SYSTEM_PROMPT = (
    "You label social media posts. For each post give its sentiment (negative, neutral or positive), "
    "your confidence in that sentiment (a number from 0 to 1), and its main emotion (anger, disgust, fear, "
    "joy, neutral, sadness or surprise). The user sends a JSON list of posts, each with an id and a text. "
    'Answer with one JSON object and nothing else: {"results": [{"id": <the post\'s id>, "sentiment": '
    '"...", "confidence": 0.0, "emotion": "..."}]}, one result for every post.'
)


class LlmUnavailable(RuntimeError):
    """The provider did not answer usefully (down, timing out, rate-limited past the retries, refusing the
    key): an outage, never the posts' fault."""


class LlmInvalidAnswer(ValueError):
    """The provider answered twice with something other than the JSON asked for: counted against the posts."""


class BudgetSpent(RuntimeError):
    """A non-blocking budget had no request left this minute."""


class _Result(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int
    sentiment: Sentiment
    confidence: float = Field(ge=0.0, le=1.0)
    emotion: Emotion

    @field_validator("sentiment", mode="before")
    @classmethod
    def _sentiment(cls, value: object) -> object:
        return to_sentiment(value) if isinstance(value, str) else value

    @field_validator("emotion", mode="before")
    @classmethod
    def _emotion(cls, value: object) -> object:
        return to_emotion(value) if isinstance(value, str) else value


class _Answer(BaseModel):
    results: list[_Result]


def prediction(sentiment: Sentiment, confidence: float, emotion: Emotion, model_name: str) -> Prediction:
    """A provider gives one label per task and one confidence: the rest of the sentiment distribution is
    shared equally, and the emotion, which comes without a confidence, is one-hot."""
    rest = (1.0 - confidence) / (len(Sentiment) - 1)
    return Prediction(
        sentiment=sentiment,
        sentiment_confidence=confidence,
        sentiment_scores={s: confidence if s == sentiment else rest for s in Sentiment},
        emotion=emotion,
        emotion_confidence=1.0,
        emotion_scores={e: float(e == emotion) for e in Emotion},
        model_name=model_name,
    )


def parse_answer(text: str | None, count: int, model_name: str) -> list[Prediction]:
    """The predictions for posts 0..count-1 from the provider's answer; LlmInvalidAnswer saying what is wrong."""
    try:
        answer = _Answer.model_validate_json(text or "")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "answer"
        raise LlmInvalidAnswer(f"{where}: {first['msg']}") from None
    by_id = {result.id: result for result in answer.results}
    if sorted(by_id) != list(range(count)):
        raise LlmInvalidAnswer(f"results for ids {sorted(by_id)[:20]}, asked for 0..{count - 1}")
    return [
        prediction(r.sentiment, r.confidence, r.emotion, model_name) for r in (by_id[i] for i in range(count))
    ]


class MinuteBudget:
    """At most ``limit`` takes per clock minute across every process sharing Redis (a fixed window)."""

    def __init__(self, redis: aioredis.Redis, key: str, limit: int) -> None:
        self.redis, self.key, self.limit = redis, key, limit

    async def take(self) -> bool:
        """One from this minute's budget; False when it is spent."""
        key = f"{self.key}:{int(time.time() // 60)}"
        pipe = self.redis.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, 120)
        used, _ = await pipe.execute()
        return int(used) <= self.limit

    async def wait(self) -> None:
        """One from the budget, waiting for the next minute while this one is spent."""
        while not await self.take():  # noqa: ASYNC110 - the budget is in Redis: wait for the next window
            await asyncio.sleep(60 - time.time() % 60 + 0.05)


class LlmMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "llm_requests", "Requests to the LLM provider, by outcome", ["outcome"], registry=registry
        )
        self.responses = Counter(
            "llm_http_responses",
            "HTTP responses from the provider (retries included)",
            ["status"],
            registry=registry,
        )
        self.seconds = Histogram(
            "llm_request_seconds", "One request to the provider, its retries included", registry=registry
        )


class LlmClassifier:
    """Classifies texts through the configured provider; the same ``Classification`` as the Triton client."""

    def __init__(
        self,
        settings: Settings,
        redis: aioredis.Redis,
        registry: CollectorRegistry | None = None,
    ) -> None:
        if settings.llm_provider == "none":
            raise ValueError("no LLM provider is configured (LLM_PROVIDER=none)")
        default = PROVIDERS.get(settings.llm_provider)
        self.base_url = settings.llm_base_url or (default.base_url if default else "")
        self.model = settings.llm_model or (default.model if default else "")
        self.model_name = f"llm:{settings.llm_provider}/{self.model}"[:128]  # the column holds 128
        self.batch_size = settings.llm_batch_size
        self.metrics = LlmMetrics(registry or CollectorRegistry())
        names = RedisNames(settings.redis_key_prefix)
        self.rate = MinuteBudget(redis, names.llm_requests, settings.llm_rate_per_min)
        self._slots = asyncio.Semaphore(settings.llm_concurrency)
        self._answered = True
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=settings.llm_api_key.get_secret_value() or "none",  # a local server may want none
            timeout=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
            http_client=httpx.AsyncClient(event_hooks={"response": [self._count]}),
        )

    async def _count(self, response: httpx.Response) -> None:
        self.metrics.responses.labels(str(response.status_code)).inc()

    async def healthy(self) -> bool:
        """Whether the provider answered its last request (a provider is not probed: it costs money)."""
        return self._answered

    async def close(self) -> None:
        await self._client.close()

    async def classify(self, texts: Sequence[str], *, budget: MinuteBudget | None = None) -> Classification:
        """Every text classified, ``LLM_BATCH_SIZE`` to a request; ``budget`` (if given) must allow each
        request too, or BudgetSpent is raised for the whole call."""
        parts = await gather_all(*(self._ask(part, budget) for part in chunks(texts, self.batch_size)))
        return Classification([p for part in parts for p in part], self.model_name, self.model)

    async def _ask(self, texts: Sequence[str], budget: MinuteBudget | None) -> list[Prediction]:
        posts = json.dumps([{"id": i, "text": text} for i, text in enumerate(texts)], ensure_ascii=False)
        for attempt in (1, 2):
            if budget is not None and not await budget.take():
                raise BudgetSpent("the provider's second-opinion budget for this minute is spent")
            async with self._slots:
                await self.rate.wait()
                text = await self._request(posts)
            try:
                predictions = parse_answer(text, len(texts), self.model_name)
            except LlmInvalidAnswer as exc:
                self.metrics.requests.labels("invalid").inc()
                log.warning("invalid answer from %s (attempt %d of 2): %s", self.model_name, attempt, exc)
                if attempt == 2:
                    raise
                continue
            self.metrics.requests.labels("ok").inc()
            return predictions
        raise AssertionError("unreachable")

    async def _request(self, posts: str) -> str | None:
        started = time.perf_counter()
        try:
            completion = await self._client.chat.completions.create(
                model=self.model,
                messages=[{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": posts}],
                response_format={"type": "json_object"},
                temperature=0,
            )
        except openai.BadRequestError as exc:  # the request itself was refused: count it against the posts
            self.metrics.requests.labels("refused").inc()
            raise LlmInvalidAnswer(f"the provider refused the request: {exc.message}") from exc
        except (openai.APIConnectionError, openai.APIStatusError) as exc:
            self.metrics.requests.labels("unavailable").inc()
            self._answered = False
            detail = exc.message if isinstance(exc, openai.APIStatusError) else str(exc)
            raise LlmUnavailable(f"{self.model_name} at {self.base_url}: {detail}") from exc
        finally:
            self.metrics.seconds.observe(time.perf_counter() - started)
        self._answered = True
        return completion.choices[0].message.content if completion.choices else None
