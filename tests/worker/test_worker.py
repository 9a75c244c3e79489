"""The worker on the real Redis, PostgreSQL and Triton: every post stored once, with its event; poison input
dead-lettered with its reason; outages pause without losing or dead-lettering anything."""

import asyncio
from datetime import timedelta
from functools import partial
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db.engine import session_factory
from services.common.db.models import SentimentAnalysis, SocialMediaPost, its_post
from services.common.events import PostEvent
from services.common.names import RedisNames
from services.common.settings import Settings
from services.worker import dead_letters
from services.worker.stream import Entry
from tests.support import free_port, start_triton
from tests.worker.conftest import (
    WHEN,
    Running,
    add,
    at_least,
    counts,
    dead,
    dead_count,
    equals,
    pending,
    post,
    stored,
    until,
)

# Empty tables and no keys under the run's prefix after each test (both fixtures clean up).
pytestmark = pytest.mark.usefixtures("session", "redis")


async def test_every_post_is_stored_once_with_its_analysis_and_event(
    worker_settings: Settings,
    redis: aioredis.Redis,
    names: RedisNames,
    engine: AsyncEngine,
    events: list[PostEvent],
) -> None:
    ids = await add(redis, names, *(post(i) for i in range(50)))
    async with Running(worker_settings) as worker:
        await until(lambda: stored(engine, 50), what="50 stored posts")
        await until(lambda: len(events) == 50, what="50 events")
    assert await pending(redis, names) == 0
    assert sorted(e.data.post_id for e in events) == sorted(f"p{i}" for i in range(50))
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(SocialMediaPost, SentimentAnalysis)
                .join(SentimentAnalysis, its_post())
                .where(SocialMediaPost.post_id == "p0")
            )
        ).one()
    assert row.ingested_at == Entry(ids[0], {}).ingested_at, "ingested_at is when XADD stored the entry"
    assert row.created_at == WHEN
    assert row.model_name.startswith("minilm-bundle@")
    event = next(e for e in events if e.data.post_id == "p0")
    assert event.data.sentiment_label == row.sentiment_label
    assert event.data.confidence_score == pytest.approx(row.confidence_score)
    assert worker.metrics.registry.get_sample_value("worker_posts_processed_total") == 50


async def test_poison_input_has_a_defined_outcome_and_never_stops_the_worker(
    worker_settings: Settings, redis: aioredis.Redis, names: RedisNames, engine: AsyncEngine
) -> None:
    original = post(1, "the original text")
    async with Running(worker_settings):
        await add(redis, names, original)
        await until(lambda: stored(engine, 1), what="the original post")
        missing = post(2)
        del missing["author"]
        await add(
            redis,
            names,
            missing,  # a required field missing
            post(3, extra="ignored"),  # an extra field: stored, the field ignored
            post(4, created_at="yesterday"),  # not a timestamp
            post(5, created_at="2026-11-28T12:00:00"),  # no UTC offset
            post(6, ""),  # empty content
            post(7, "x" * 1_000_000),  # 1 MB of content
            {
                **{k.encode(): v.encode() for k, v in post(8).items()},
                b"content": b"caf\xe9 \xff",
            },  # not UTF-8
            post(1, "a different text under the same post_id"),
            original,  # the same post again: a redelivery, no second row
            post(9),
        )
        await until(lambda: stored(engine, 3), what="posts 1, 3 and 9")
        await until(lambda: equals(dead_count(engine), 7), what="7 dead letters")
    reasons = {d.fields[b"post_id"].decode(): d.reason for d in await dead(engine)}
    assert reasons.pop("p4").startswith("created_at: ")  # pydantic's wording of a bad datetime
    assert reasons == {
        "p2": "author: required",
        "p5": "created_at: timestamp has no UTC offset (add 'Z' or '+00:00')",
        "p6": "content: String should have at least 1 character",
        "p7": "content: String should have at most 10000 characters",
        "p8": "content: not valid UTF-8 (byte 3)",
        "p1": "post_id 'p1' is already stored with different content",
    }
    assert await pending(redis, names) == 0
    async with engine.connect() as conn:
        assert await conn.scalar(select(SocialMediaPost.content).where(SocialMediaPost.post_id == "p1")) == (
            "the original text"
        )


async def test_two_workers_racing_on_one_stream_store_each_post_once(
    worker_settings: Settings, redis: aioredis.Redis, names: RedisNames, engine: AsyncEngine
) -> None:
    await add(redis, names, *(post(i) for i in range(200)))
    async with Running(worker_settings, "a") as a, Running(worker_settings, "b") as b:
        await until(lambda: stored(engine, 200), what="200 stored posts")
    assert await pending(redis, names) == 0
    done = [w.metrics.registry.get_sample_value("worker_posts_processed_total") or 0 for w in (a, b)]
    assert sum(done) == 200
    assert all(done), f"both workers took a share: {done}"
    # Each stopped cleanly with nothing pending, so left the group: no name piles up there restart after
    # restart.
    assert await redis.xinfo_consumers(names.stream, names.group) == []


async def test_posts_left_pending_by_a_dead_consumer_are_taken_over(
    worker_settings: Settings, redis: aioredis.Redis, names: RedisNames, engine: AsyncEngine
) -> None:
    await redis.xgroup_create(names.stream, names.group, id="0", mkstream=True)
    await add(redis, names, *(post(i) for i in range(10)))
    await redis.xreadgroup(names.group, "dead", {names.stream: ">"}, count=10)  # read, then "crash"
    assert await pending(redis, names) == 10
    async with Running(worker_settings.model_copy(update={"worker_claim_idle_s": 0.5})):
        await until(lambda: stored(engine, 10), what="the dead consumer's posts")
        await until(lambda: equals(pending(redis, names), 0), what="no pending entry")


async def test_triton_stopped_mid_run_pauses_the_worker_and_dead_letters_nothing(
    worker_settings: Settings,
    redis: aioredis.Redis,
    names: RedisNames,
    engine: AsyncEngine,
    repository: Path,
    tmp_path: Path,
) -> None:
    port = free_port()
    settings = worker_settings.model_copy(
        update={"triton_url": f"127.0.0.1:{port}", "triton_timeout_s": 2.0, "worker_claim_idle_s": 0.5}
    )  # a takeover would happen during the outage, were the worker to allow one
    server = start_triton(repository, tmp_path, grpc_port=port)
    try:
        await add(redis, names, *(post(i) for i in range(300)))
        async with Running(settings) as worker:
            await until(partial(at_least, engine, 30), what="progress before Triton stops")
            server.stop()
            await until(lambda: worker.paused_by is not None, what="the worker to pause")
            held = (await counts(engine))[0]
            await asyncio.sleep(2)
            assert (await counts(engine))[0] == held, "nothing is written while Triton is away"
            assert await dead_count(engine) == 0
            assert await pending(redis, names) > 0, "what it read stays pending"
            server = start_triton(repository, tmp_path, grpc_port=port)
            await until(lambda: stored(engine, 300), timeout_s=120, what="every post after Triton came back")
            await until(lambda: worker.paused_by is None, what="the worker to resume")
    finally:
        server.stop()
    assert await dead_count(engine) == 0
    assert await pending(redis, names) == 0


async def test_a_post_that_keeps_failing_is_dead_lettered_after_n_tries_and_can_be_redriven(
    worker_settings: Settings, redis: aioredis.Redis, names: RedisNames, engine: AsyncEngine
) -> None:
    # A real failure on the post's own account: the database refuses this one content.
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION refuse_cursed() RETURNS trigger AS $$ BEGIN "
                "IF NEW.content = 'cursed' THEN RAISE EXCEPTION 'cursed content' "
                "USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            )
        )
        await conn.execute(
            text(
                "CREATE TRIGGER refuse_cursed BEFORE INSERT ON social_media_posts "
                "FOR EACH ROW EXECUTE FUNCTION refuse_cursed()"
            )
        )
    settings = worker_settings.model_copy(update={"worker_claim_idle_s": 0.5})  # quick retries
    try:
        async with Running(settings) as worker:
            await add(redis, names, post(1), post(2, "cursed"), post(3))
            await until(lambda: stored(engine, 2), what="the two good posts of the batch")
            await until(lambda: equals(dead_count(engine), 1), what="the cursed post dead-lettered")
            failed = worker.metrics.registry.get_sample_value("worker_posts_failed_total")
            assert failed == worker_settings.worker_max_failures
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER refuse_cursed ON social_media_posts"))
            await conn.execute(text("DROP FUNCTION refuse_cursed"))
    [letter] = await dead(engine)
    assert letter.reason.startswith(
        f"failed {worker_settings.worker_max_failures} times: CheckViolationError (23514)"
    )
    assert "cursed content" in letter.reason
    assert await redis.hlen(names.failures) == 0, "the failure counts go with the post"

    sessions = session_factory(engine)
    [new_id] = await dead_letters.redrive(sessions, redis, names, [letter.id])
    assert await dead_count(engine) == 0
    async with Running(worker_settings):
        await until(lambda: stored(engine, 3), what="the re-driven post")
    assert new_id > letter.entry_id
    with pytest.raises(KeyError):
        await dead_letters.redrive(sessions, redis, names, [letter.id])


async def test_health_and_metrics_are_served(
    worker_settings: Settings, redis: aioredis.Redis, names: RedisNames, engine: AsyncEngine
) -> None:
    port = free_port()
    settings = worker_settings.model_copy(update={"worker_metrics_port": port})
    await add(redis, names, *(post(i) for i in range(5)))
    async with Running(settings), httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        await until(lambda: stored(engine, 5), what="5 stored posts")
        health = await http.get("/health")
        metrics = (await http.get("/metrics")).text
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert "worker_posts_processed_total 5.0" in metrics
    assert "worker_paused 0.0" in metrics


def test_entry_ids_give_the_ingestion_time() -> None:
    assert Entry("1764331200000-3", {}).ingested_at.isoformat() == "2025-11-28T12:00:00+00:00"
    assert Entry("1764331200500-0", {}).ingested_at - Entry("1764331200000-0", {}).ingested_at == timedelta(
        milliseconds=500
    )
