"""Faults on real processes: the ingester and workers as `make run` starts them, killed, stopped, restarted;
PostgreSQL restarted and Redis away mid-run. Each ends with counts: nothing lost, nothing doubled."""

import asyncio
import shutil
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db.models import SocialMediaPost
from services.common.events import PostEvent
from services.common.names import RedisNames
from services.common.settings import Settings
from services.worker.worker import Worker
from tests.support import LoneRedis
from tests.worker.conftest import (
    at_least,
    counts,
    dead_count,
    equals,
    pending,
    post,
    stored,
    until,
    worker_env,
)

PG = Path("/etc/postgresql")
PG_VERSIONS = sorted(p.name for p in PG.iterdir()) if shutil.which("pg_ctlcluster") and PG.is_dir() else []

pytestmark = [pytest.mark.usefixtures("session", "redis"), pytest.mark.slow]


def start_worker(settings: Settings, consumer: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "services.worker"],
        env=worker_env(settings, WORKER_CONSUMER=consumer),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def stopped(process: subprocess.Popen[bytes], timeout_s: float = 30) -> int:
    return await asyncio.wait_for(asyncio.to_thread(process.wait), timeout_s)


async def test_from_the_ingester_to_stored_rows_and_an_event_for_every_post(
    worker_settings: Settings,
    redis: aioredis.Redis,
    names: RedisNames,
    engine: AsyncEngine,
    events: list[PostEvent],
) -> None:
    ingest = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.ingester", "synthetic", "--count", "300"],
        env=worker_env(worker_settings, INGEST_RATE="0", INGEST_SEED="5"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ingest.returncode == 0, ingest.stderr
    assert "sent 300 posts" in ingest.stderr
    worker = start_worker(worker_settings, "e2e")
    try:
        await until(lambda: stored(engine, 300), timeout_s=120, what="300 stored posts")
        await until(lambda: len({e.data.post_id for e in events}) == 300, what="an event for each")
    finally:
        worker.send_signal(signal.SIGTERM)
        assert await stopped(worker) == 0
    async with engine.connect() as conn:
        ids = set(await conn.scalars(select(SocialMediaPost.post_id)))
    assert {e.data.post_id for e in events} == ids
    assert await pending(redis, names) == 0
    assert await dead_count(engine) == 0


async def test_a_worker_killed_again_and_again_loses_and_doubles_nothing(
    worker_settings: Settings, redis: aioredis.Redis, names: RedisNames, engine: AsyncEngine
) -> None:
    for i in range(600):
        await redis.xadd(names.stream, post(i))  # type: ignore[arg-type]
    done = 0
    for _ in range(3):
        worker = start_worker(worker_settings, "k")  # the same name, as a restarted container has
        await until(partial(at_least, engine, done + 40), timeout_s=120, what="progress before the kill")
        worker.kill()  # SIGKILL: batches in flight, nothing acknowledged for them
        assert await stopped(worker) == -signal.SIGKILL
        done = (await counts(engine))[0]
    worker = start_worker(worker_settings, "k")
    try:
        await until(lambda: stored(engine, 600), timeout_s=180, what="all 600 posts")
        await until(lambda: equals(pending(redis, names), 0), what="nothing pending")
    finally:
        worker.send_signal(signal.SIGTERM)
        assert await stopped(worker) == 0
    assert await counts(engine) == (600, 600)
    assert await dead_count(engine) == 0


async def test_sigterm_finishes_the_batches_in_flight_and_acknowledges_them(
    worker_settings: Settings, redis: aioredis.Redis, names: RedisNames, engine: AsyncEngine
) -> None:
    for i in range(400):
        await redis.xadd(names.stream, post(i))  # type: ignore[arg-type]
    worker = start_worker(worker_settings, "t")
    await until(lambda: at_least(engine, 50), timeout_s=120, what="some progress")
    worker.send_signal(signal.SIGTERM)
    assert await stopped(worker) == 0
    [group] = await redis.xinfo_groups(names.stream)
    assert await pending(redis, names) == 0, "what it read, it finished and acknowledged"
    assert (await counts(engine))[0] == group["entries-read"]


@pytest.mark.skipif(
    not shutil.which("pg_ctlcluster"), reason="needs Debian's pg_ctlcluster to restart PostgreSQL"
)
async def test_a_postgresql_restart_mid_run_loses_nothing(
    worker_settings: Settings, redis: aioredis.Redis, names: RedisNames, engine: AsyncEngine
) -> None:
    for i in range(400):
        await redis.xadd(names.stream, post(i))  # type: ignore[arg-type]
    worker = Worker(worker_settings, consumer="pg")
    task = asyncio.create_task(worker.run())
    try:
        await until(lambda: at_least(engine, 50), timeout_s=120, what="some progress")
        restart = await asyncio.to_thread(
            subprocess.run,
            ["pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSIONS[-1], "main", "restart"],
            capture_output=True,
            check=False,
        )
        assert restart.returncode == 0, restart.stderr
        await until(lambda: stored(engine, 400), timeout_s=180, what="all 400 posts after the restart")
    finally:
        worker.stop()
        await asyncio.wait_for(task, 60)
    assert await dead_count(engine) == 0
    assert await pending(redis, names) == 0


async def test_a_worker_waits_for_redis_and_carries_on_when_it_answers(
    worker_settings: Settings, engine: AsyncEngine, lone_redis: LoneRedis
) -> None:
    settings = worker_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{lone_redis.port}/0"})
    worker = Worker(settings, consumer="r")
    task = asyncio.create_task(worker.run())
    try:
        await until(lambda: worker.paused_by is not None, what="the worker to wait for Redis")
        lone_redis.start()
        client = aioredis.Redis(port=lone_redis.port)
        await until(lambda: _ping(client), what="the test Redis")
        for i in range(20):
            await client.xadd(worker.names.stream, post(i))  # type: ignore[arg-type]
        await until(lambda: stored(engine, 20), timeout_s=60, what="the posts sent once Redis answered")
        await client.aclose()
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)


async def _ping(client: aioredis.Redis) -> bool:
    try:
        return bool(await client.ping())
    except (OSError, aioredis.ConnectionError):
        return False
