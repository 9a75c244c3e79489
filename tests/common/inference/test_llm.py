"""The LLM provider client against a local server that speaks the chat-completions API, with the
failure modes of a real provider: slow answers, 429 with Retry-After, 500s, malformed JSON, wrong labels."""

import logging

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from services.common.inference.llm import (
    BudgetSpent,
    LlmClassifier,
    LlmInvalidAnswer,
    LlmUnavailable,
    MinuteBudget,
    parse_answer,
)
from services.common.labels import Emotion, Sentiment
from services.common.names import RedisNames
from services.common.settings import Settings
from tests.support import LLM_KEY, FakeProvider

TEXTS = ["I love this phone", "worst airline ever, I hate it", "the meeting is at 7", "great game!", "ok"]


async def classify(
    settings: Settings, redis: aioredis.Redis, texts: list[str] = TEXTS
) -> list[tuple[str, str]]:
    llm = LlmClassifier(settings, redis)
    try:
        result = await llm.classify(texts)
    finally:
        await llm.close()
    assert result.model_name == "llm:custom/fake-model"
    return [(p.sentiment.value, p.emotion.value) for p in result.predictions]


async def test_posts_are_labelled_in_batches_and_the_key_is_never_logged(
    llm_settings: Settings, redis: aioredis.Redis, provider: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert await classify(llm_settings, redis) == [FakeProvider.label(t) for t in TEXTS]
    # LLM_BATCH_SIZE 4; the batches go out concurrently (LLM_CONCURRENCY), so in either order
    assert sorted(len(r["posts"]) for r in provider.requests) == [1, 4]
    assert {r["model"] for r in provider.requests} == {"fake-model"}
    assert LLM_KEY not in caplog.text
    assert LLM_KEY not in repr(llm_settings)


async def test_a_429_is_retried_after_its_retry_after(
    llm_settings: Settings, redis: aioredis.Redis, provider: FakeProvider
) -> None:
    provider.script = ["429"]
    assert await classify(llm_settings, redis, TEXTS[:2]) == [FakeProvider.label(t) for t in TEXTS[:2]]
    first, second = provider.requests
    assert first["mode"] == "429"
    assert second["at"] - first["at"] >= 0.9, "the client waited as Retry-After: 1 said"


async def test_server_errors_are_retried_and_then_an_outage(
    llm_settings: Settings, redis: aioredis.Redis, provider: FakeProvider
) -> None:
    provider.script = ["500", "500"]
    assert await classify(llm_settings, redis, TEXTS[:2]) == [FakeProvider.label(t) for t in TEXTS[:2]]
    provider.mode = "500"
    with pytest.raises(LlmUnavailable, match="overloaded"):
        await classify(llm_settings, redis, TEXTS[:2])
    assert len(provider.requests) == 3 + 3  # LLM_MAX_RETRIES 2: three tries each time


async def test_a_slow_provider_times_out_as_an_outage(
    llm_settings: Settings, redis: aioredis.Redis, provider: FakeProvider
) -> None:
    provider.mode, provider.slow_s = "slow", 1.5
    with pytest.raises(LlmUnavailable):
        await classify(llm_settings.model_copy(update={"llm_timeout_s": 0.5, "llm_max_retries": 0}), redis)


@pytest.mark.parametrize("mode", ["malformed", "wrong_labels", "missing"])
async def test_an_invalid_answer_is_asked_again_once_then_refused(
    mode: str, llm_settings: Settings, redis: aioredis.Redis, provider: FakeProvider
) -> None:
    provider.script = [mode]
    assert await classify(llm_settings, redis, TEXTS[:3]) == [FakeProvider.label(t) for t in TEXTS[:3]]
    provider.mode = mode
    with pytest.raises(LlmInvalidAnswer):
        await classify(llm_settings, redis, TEXTS[:3])
    assert [r["mode"] for r in provider.requests] == [mode, "ok", mode, mode]


async def test_a_refused_key_is_an_outage_not_the_posts_fault(
    llm_settings: Settings, redis: aioredis.Redis, provider: FakeProvider
) -> None:
    wrong = llm_settings.model_copy(update={"llm_api_key": SecretStr("sk-wrong")})
    with pytest.raises(LlmUnavailable, match="invalid api key"):
        await classify(wrong, redis)


def test_answers_are_read_strictly() -> None:
    good = '{"results": [{"id": 1, "sentiment": "Negative", "confidence": 0.8, "emotion": "optimism"},'
    good += ' {"id": 0, "sentiment": "positive", "confidence": 1, "emotion": "joy", "reason": "nice"}]}'
    first, second = parse_answer(good, 2, "llm:test")
    assert first.model_name == second.model_name == "llm:test"
    assert (first.sentiment, first.emotion, first.sentiment_confidence) == (
        Sentiment.POSITIVE,
        Emotion.JOY,
        1.0,
    )
    assert (second.sentiment, second.emotion) == (Sentiment.NEGATIVE, Emotion.JOY)  # optimism counts as joy
    assert sum(second.sentiment_scores.values()) == pytest.approx(1.0)
    with pytest.raises(LlmInvalidAnswer, match="confidence"):
        parse_answer(
            '{"results": [{"id": 0, "sentiment": "positive", "confidence": 7, "emotion": "joy"}]}', 1, "m"
        )
    with pytest.raises(LlmInvalidAnswer, match=r"asked for 0\.\.1"):
        parse_answer(
            '{"results": [{"id": 0, "sentiment": "positive", "confidence": 1, "emotion": "joy"}]}', 2, "m"
        )
    with pytest.raises(LlmInvalidAnswer):
        parse_answer(None, 1, "m")


async def test_a_minute_budget_is_shared_and_refuses_past_its_limit(
    redis: aioredis.Redis, names: RedisNames, llm_settings: Settings, provider: FakeProvider
) -> None:
    one, other = MinuteBudget(redis, names.llm_reviews, 3), MinuteBudget(redis, names.llm_reviews, 3)
    taken = [await one.take(), await other.take(), await one.take(), await other.take()]
    # Four takes in one minute, unless the minute turned between them (then the new window allows more).
    assert taken == [True, True, True, False] or all(taken)
    spent = MinuteBudget(redis, names.llm_reviews + ":spent", 0)
    llm = LlmClassifier(llm_settings, redis)
    with pytest.raises(BudgetSpent):
        await llm.classify(TEXTS, budget=spent)
    await llm.close()
    assert provider.requests == []
