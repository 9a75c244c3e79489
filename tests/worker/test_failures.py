"""What a failure is, on the real services: a systemic one pauses the worker and dead-letters nothing; a
post whose attempts crashed the worker is looked up before it is dead-lettered; a lost consumer group is
created again; a database that stops answering pauses the worker; dead letters are kept once, in
PostgreSQL, until redriven or deleted."""

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db.engine import session_factory
from services.common.events import PostEvent
from services.common.inference.spec import MODEL, TOKENIZER_FILE
from services.common.messages import PostMessage
from services.common.names import RedisNames
from services.common.settings import Settings
from services.worker import dead_letters
from services.worker.stream import Entry, WorkStream
from tests.worker.conftest import Running, add, dead, dead_count, equals, pending, post, stored, until

pytestmark = pytest.mark.usefixtures("session", "redis")


def tokenizer_copy(repository: Path, folder: Path, *, altered: bool) -> Path:
    """A model repository holding only the tokenizer the worker reads, altered or not."""
    [source] = (repository / MODEL).glob(f"*/{TOKENIZER_FILE}")
    target = folder / MODEL / source.parent.name / TOKENIZER_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    if altered:
        with target.open("a") as file:
            file.write(" ")  # another fingerprint: "does not belong to the served model"
    return folder


async def test_a_systemic_failure_pauses_the_worker_and_dead_letters_nothing(
    worker_settings: Settings,
    redis: aioredis.Redis,
    names: RedisNames,
    engine: AsyncEngine,
    repository: Path,
    tmp_path: Path,
) -> None:
    # A tokenizer that does not belong to the served model fails every post alike (ModelMismatch).
    wrong = tokenizer_copy(repository, tmp_path, altered=True)
    settings = worker_settings.model_copy(
        update={"model_repository": wrong, "worker_claim_idle_s": 0.5, "worker_max_failures": 2}
    )
    await add(redis, names, *(post(i) for i in range(12)))
    async with Running(settings) as worker:
        await until(lambda: worker.paused_by is not None, what="the worker to call it systemic")
        assert worker.paused_by is not None
        assert worker.paused_by.startswith("systemic failure: ModelMismatch: tokenizer ")
        body, code = worker.health()
        assert (body["status"], code) == ("paused", 200)
        assert "does not belong to the served model" in body["waiting_for"]
        await asyncio.sleep(3)  # several claim-idle rounds: nothing is taken over or dead-lettered
        assert await dead_count(engine) == 0
        tokenizer_copy(repository, tmp_path, altered=False)  # the operator puts the right one back
        await until(lambda: stored(engine, 12), what="every post once the failure passed")
        await until(lambda: equals(pending(redis, names), 0), what="nothing pending")
        assert worker.paused_by is None
    assert await dead_count(engine) == 0
    assert await redis.hlen(names.failures) == 0, "no failure was counted against the posts"


@pytest.mark.parametrize("was_stored", [True, False])
async def test_a_post_whose_attempts_crashed_the_worker_is_looked_up_before_it_is_dead_lettered(
    worker_settings: Settings,
    redis: aioredis.Redis,
    names: RedisNames,
    engine: AsyncEngine,
    events: list[PostEvent],
    was_stored: bool,
) -> None:
    fields = post(1)
    [entry_id] = await add(redis, names, fields)
    await redis.xgroup_create(names.stream, names.group, id="0")
    await redis.xreadgroup(names.group, "crashed", {names.stream: ">"}, count=1)
    # Each lone attempt counted itself and never finished: three crashes, the last after its commit.
    await redis.hset(names.failures, entry_id, worker_settings.worker_max_failures)
    if was_stored:
        async with Running(worker_settings, "first") as first:
            entry = Entry(entry_id, {k.encode(): v.encode() for k, v in fields.items()})
            await first.store(await first.classify([(entry, PostMessage.parse(fields))]))
    async with Running(worker_settings.model_copy(update={"worker_claim_idle_s": 0.5})):
        await until(lambda: equals(pending(redis, names), 0), what="the crashed post settled")
    letters = await dead(engine)
    if was_stored:
        assert letters == []
        assert [e.data.post_id for e in events] == ["p1"]
    else:
        [letter] = letters
        assert letter.entry_id == entry_id
        assert (
            letter.reason
            == f"failed {worker_settings.worker_max_failures} times: its processing stopped the worker"
        )
    assert await redis.hlen(names.failures) == 0


async def test_a_lost_consumer_group_is_created_again_and_the_worker_carries_on(
    worker_settings: Settings, redis: aioredis.Redis, names: RedisNames, engine: AsyncEngine
) -> None:
    async with Running(worker_settings) as worker:
        await add(redis, names, *(post(i) for i in range(5)))
        await until(lambda: stored(engine, 5), what="the first posts")
        await redis.delete(names.stream)  # what a Redis restarted without its data looks like
        await add(redis, names, *(post(i) for i in range(5, 10)))
        await until(lambda: stored(engine, 10), what="the posts sent after the loss")
        await redis.xgroup_destroy(names.stream, names.group)  # or someone removing the group
        await add(redis, names, *(post(i) for i in range(10, 15)))
        await until(lambda: stored(engine, 15), what="the posts sent after the group was removed")
        assert worker.paused_by is None
    [group] = await redis.xinfo_groups(names.stream)
    assert group["lag"] == 0, "the group's lag is readable"


async def test_a_group_created_on_a_trimmed_stream_has_a_readable_lag(
    worker_settings: Settings, redis: aioredis.Redis, names: RedisNames
) -> None:
    await add(redis, names, *(post(i) for i in range(10)))
    await redis.xtrim(names.stream, maxlen=4, approximate=False)  # the workers trimmed what they acked
    await WorkStream(redis, names, "w", 10, 100).ensure_group()
    [group] = await redis.xinfo_groups(names.stream)
    assert (group["entries-read"], group["lag"]) == (6, 4)


async def test_a_database_that_stops_answering_pauses_the_worker_until_it_answers(
    worker_settings: Settings, redis: aioredis.Redis, names: RedisNames, engine: AsyncEngine
) -> None:
    settings = worker_settings.model_copy(update={"worker_db_timeout_s": 0.5})
    async with Running(settings) as worker, engine.connect() as blocker:
        await blocker.execute(text("LOCK TABLE social_media_posts IN ACCESS EXCLUSIVE MODE"))
        await add(redis, names, *(post(i) for i in range(5)))
        await until(lambda: worker.paused_by is not None, what="the worker to pause on the stuck database")
        assert "TimeoutError" in (worker.paused_by or "")
        await blocker.rollback()  # the lock goes: the database answers again
        await until(lambda: stored(engine, 5), what="the posts once the database answers")
        # The rows are visible to this connection a moment before the worker hears its commit back.
        await until(lambda: worker.paused_by is None, what="the worker to resume")
    assert await dead_count(engine) == 0


async def test_dead_letters_are_kept_once_and_leave_only_by_redrive_or_delete(
    redis: aioredis.Redis, names: RedisNames, engine: AsyncEngine
) -> None:
    sessions = session_factory(engine)
    fields = {b"post_id": b"x", b"content": b"caf\xe9 \x00"}  # neither UTF-8 nor free of NUL
    async with sessions() as session:
        await dead_letters.keep(session, [("1-1", fields, "bad\x00reason")], "w")
        await dead_letters.keep(session, [("1-1", fields, "again")], "w")  # a retried settle
        await dead_letters.keep(session, [("1-2", fields, "other")], "w")
        await dead_letters.keep(session, [("1-1", {b"post_id": b"y"}, "another")], "w")  # the id again
    first, second, third = await dead(engine)
    assert (first.entry_id, first.fields, first.reason) == ("1-1", fields, "bad\\x00reason")
    assert third.entry_id.startswith("1-1~")
    assert third.fields == {b"post_id": b"y"}, "a different dead letter under a known id is kept too"
    await dead_letters.remove(sessions, [third.id])
    assert await dead_letters.remove(sessions, [second.id]) == 1
    with pytest.raises(KeyError, match="no dead letter 999"):
        await dead_letters.remove(sessions, [first.id, 999])
    [new_id] = await dead_letters.redrive(sessions, redis, names, [first.id])
    assert await dead_count(engine) == 0
    entries: Any = await redis.xrange(names.stream)
    [(found_id, found)] = entries
    assert (found_id.decode(), found) == (new_id, fields)


async def test_dead_letters_an_older_version_left_in_redis_move_to_postgresql(
    worker_settings: Settings, redis: aioredis.Redis, names: RedisNames, engine: AsyncEngine
) -> None:
    old = {
        b"post_id": b"p7",
        b"dead_letter_reason": b"author: required",
        b"dead_letter_entry_id": b"5-0",
        b"dead_letter_at": b"2026-11-30T10:00:00+00:00",
        b"dead_letter_consumer": b"host-123",
    }
    await redis.xadd(names.dead_letter_stream, old)  # type: ignore[arg-type]
    async with Running(worker_settings):
        await until(lambda: equals(dead_count(engine), 1), what="the old dead letter moved")
    [letter] = await dead(engine)
    assert (letter.entry_id, letter.reason, letter.fields) == ("5-0", "author: required", {b"post_id": b"p7"})
    assert (letter.at, letter.consumer) == ("2026-11-30T10:00:00+00:00", "host-123")
    assert await redis.xlen(names.dead_letter_stream) == 0


async def test_a_worker_started_while_redis_is_full_takes_over_and_acknowledges_everything(
    worker_settings: Settings, redis: aioredis.Redis, names: RedisNames, engine: AsyncEngine
) -> None:
    # Posts pending under a consumer that is gone, under this worker's own name, and new ones: the first
    # two kinds are handled alone, whose attempts Redis cannot count while it is full.
    await add(redis, names, *(post(i) for i in range(8)))
    await redis.xgroup_create(names.stream, names.group, id="0")
    await redis.xreadgroup(names.group, "gone", {names.stream: ">"}, count=3)
    await redis.xreadgroup(names.group, "w1", {names.stream: ">"}, count=2)
    await redis.config_set("maxmemory-policy", "noeviction")
    await redis.config_set("maxmemory", 1)  # full: XGROUP CREATE, HINCRBY and HSET are refused
    try:
        settings = worker_settings.model_copy(update={"worker_claim_idle_s": 0.5})
        async with Running(settings, consumer="w1") as worker:
            await until(lambda: stored(engine, 8), what="8 stored posts while Redis is full")
            await until(lambda: equals(pending(redis, names), 0), what="every post acknowledged")
            assert worker.paused_by is None
    finally:
        await redis.config_set("maxmemory", 0)
    assert await redis.hlen(names.failures) == 0, "no attempt was counted, and none is left counted"
    assert await dead_count(engine) == 0
