"""The LLM fallback on the real Redis, PostgreSQL and Triton, with a local server playing the provider:
Triton stopped mid-run, the provider down too, invalid answers, and second opinions within their budget."""

import asyncio
import time
from functools import partial
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db.models import SentimentAnalysis
from services.common.names import RedisNames
from services.common.settings import Settings
from tests.support import FakeProvider, free_port, start_triton
from tests.worker.conftest import Running, add, counts, dead, dead_count, equals, pending, post, stored, until

pytestmark = pytest.mark.usefixtures("session", "redis")

LLM = "llm:custom/fake-model"


async def model_names(engine: AsyncEngine) -> dict[str, str]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(SentimentAnalysis.post_id, SentimentAnalysis.model_name))
    return {post_id: model for post_id, model in rows}


def fallback(worker_settings: Settings, llm_settings: Settings, **update: object) -> Settings:
    """The worker's settings with the provider of ``llm_settings``, switching and probing quickly."""
    llm = {k: v for k, v in llm_settings.model_dump().items() if k.startswith("llm_")}
    return worker_settings.model_copy(
        update=llm | {"triton_timeout_s": 2.0, "triton_breaker_failures": 2, "triton_probe_s": 0.5} | update
    )


async def test_triton_stopped_mid_run_switches_to_the_provider_and_back_storing_each_post_once(
    worker_settings: Settings,
    llm_settings: Settings,
    provider: FakeProvider,
    redis: aioredis.Redis,
    names: RedisNames,
    engine: AsyncEngine,
    repository: Path,
    tmp_path: Path,
) -> None:
    port = free_port()
    settings = fallback(worker_settings, llm_settings, triton_url=f"127.0.0.1:{port}")
    server = start_triton(repository, tmp_path, grpc_port=port)
    try:
        async with Running(settings) as worker:
            await add(redis, names, *(post(i) for i in range(40)))
            await until(lambda: stored(engine, 40), what="the first posts, through Triton")
            server.stop()
            await add(redis, names, *(post(i) for i in range(40, 80)))
            await until(lambda: stored(engine, 80), what="the posts sent while Triton is down")
            assert worker.classifier.falling_back
            server = start_triton(repository, tmp_path, grpc_port=port)
            i = 80  # one post at a time until a probe finds Triton back
            while (await model_names(engine))[f"p{i - 1}"] == LLM and i < 500:
                await add(redis, names, post(i))
                await until(partial(stored, engine, i + 1), what=f"post p{i}")
                i += 1
                await asyncio.sleep(0.2)
            assert not worker.classifier.falling_back
            await add(redis, names, *(post(n) for n in range(i, i + 40)))
            await until(lambda: stored(engine, i + 40), what="the posts after Triton came back")
    finally:
        server.stop()
    models = await model_names(engine)
    assert await counts(engine) == (i + 40, i + 40), "each post stored once"
    assert all(models[f"p{n}"].startswith("minilm-bundle@") for n in range(40))
    assert {models[f"p{n}"] for n in range(40, 80)} == {LLM}, "Triton was down: the provider answered"
    assert all(models[f"p{n}"].startswith("minilm-bundle@") for n in range(i, i + 40)), "back to Triton"
    assert sum(len(r["posts"]) for r in provider.requests) >= 40
    assert await dead_count(engine) == 0
    assert await pending(redis, names) == 0


async def test_with_triton_and_the_provider_both_down_the_worker_waits_and_loses_nothing(
    worker_settings: Settings,
    llm_settings: Settings,
    provider: FakeProvider,
    redis: aioredis.Redis,
    names: RedisNames,
    engine: AsyncEngine,
) -> None:
    provider.mode = "500"
    settings = fallback(
        worker_settings, llm_settings, triton_url=f"127.0.0.1:{free_port()}", llm_max_retries=0
    )
    await add(redis, names, *(post(i) for i in range(10)))
    async with Running(settings) as worker:
        await until(lambda: worker.paused_by is not None and "overloaded" in worker.paused_by, what="a pause")
        asked = len(provider.requests)
        await until(lambda: len(provider.requests) >= asked + 3, what="three more tries while paused")
        assert worker.paused_by is not None
        assert await counts(engine) == (0, 0)
        assert await dead_count(engine) == 0, "an outage dead-letters nothing"
        provider.mode = "ok"
        await until(lambda: stored(engine, 10), what="every post once the provider answers")
    assert set((await model_names(engine)).values()) == {LLM}
    assert await pending(redis, names) == 0


async def test_a_post_the_provider_keeps_answering_wrongly_for_is_dead_lettered(
    worker_settings: Settings,
    llm_settings: Settings,
    provider: FakeProvider,
    redis: aioredis.Redis,
    names: RedisNames,
    engine: AsyncEngine,
) -> None:
    provider.mode = "malformed"
    settings = fallback(
        worker_settings,
        llm_settings,
        triton_url=f"127.0.0.1:{free_port()}",
        worker_max_failures=2,
        worker_claim_idle_s=0.5,
    )
    await add(redis, names, post(0), post(1))
    async with Running(settings):
        await until(lambda: equals(dead_count(engine), 2), what="both posts dead-lettered")
    reasons = {letter.reason for letter in await dead(engine)}
    assert all("LlmInvalidAnswer" in reason and "failed 2 times" in reason for reason in reasons), reasons
    assert await counts(engine) == (0, 0)
    assert await pending(redis, names) == 0


async def test_low_confidence_posts_get_a_second_opinion_within_the_budget(
    worker_settings: Settings,
    llm_settings: Settings,
    provider: FakeProvider,
    redis: aioredis.Redis,
    names: RedisNames,
    engine: AsyncEngine,
) -> None:
    settings = fallback(worker_settings, llm_settings, llm_review_below=1.0, llm_review_per_min=2)
    started = time.time()
    await add(redis, names, *(post(i) for i in range(60)))
    async with Running(settings) as worker:
        await until(lambda: stored(engine, 60), what="every post")
    minutes = int(time.time() // 60) - int(started // 60) + 1  # the budget is per clock minute
    models = await model_names(engine)
    reviewed = [post_id for post_id, model in models.items() if model == LLM]
    assert 0 < len(provider.requests) <= 2 * minutes, "no more requests than the budget allows"
    assert len(reviewed) == sum(len(r["posts"]) for r in provider.requests), "each answer is the post's row"
    assert len(reviewed) < 60, "past the budget, the model's labels stand"
    over = worker.metrics.registry.get_sample_value(
        "worker_second_opinions_total", {"outcome": "over_budget"}
    )
    assert over is not None
    assert over > 0
    assert await counts(engine) == (60, 60)
