"""Redis under ``make run`` keeps what it holds across a stop and a start, and one found running that would
not is named in the console."""

import asyncio
import io
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from services.common.settings import Settings
from services.launcher.datastores import (
    DataService,
    data_services,
    ensure,
    machine_redis,
    start_machine_service,
)
from services.launcher.supervisor import Supervisor, answers
from tests.support import free_port

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


async def until_down(port: int) -> None:
    deadline = time.monotonic() + 20
    while answers("127.0.0.1", port):
        assert time.monotonic() < deadline, f"Redis on {port} did not stop"
        await asyncio.sleep(0.1)


async def write_entry(port: int) -> None:
    client = aioredis.Redis(port=port)
    await client.xadd("posts", {"text": "kept"})
    await client.aclose()


async def entries(port: int) -> list[dict[bytes, bytes]]:
    client = aioredis.Redis(port=port)
    found: Any = await client.xrange("posts")
    await client.aclose()
    return [fields for _, fields in found]


def on_port(settings: Settings, port: int) -> Settings:
    return settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0"})


async def test_the_machines_redis_started_here_keeps_a_stream_across_its_stop_and_start(
    tmp_path: Path,
) -> None:
    port = free_port()
    folder = tmp_path / "data" / "redis"  # missing: the start creates it
    start, stop = machine_redis(port, folder)
    service = DataService("redis", "127.0.0.1", port, port, start, stop, True, folder)
    try:
        assert await start_machine_service(service)
        await write_entry(port)
        for command in stop:
            await asyncio.to_thread(subprocess.run, command, check=True, capture_output=True)
        await until_down(port)
        assert await start_machine_service(service)
        assert await entries(port) == [{b"text": b"kept"}]
    finally:
        if answers("127.0.0.1", port):  # the daemon started here
            client = aioredis.Redis(port=port)
            await client.shutdown(nosave=True)
            await client.aclose()


async def test_the_private_redis_keeps_a_stream_across_the_supervisors_stop(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    local = on_port(settings, port)
    _, redis = data_services(local, tmp_path / "data")
    assert redis.folder == (tmp_path / "data" / "redis").resolve()
    supervisor = Supervisor(tmp_path, io.StringIO())
    try:
        await ensure(supervisor, redis, local)
        await write_entry(port)
        await supervisor.stop()  # SIGTERM
        await ensure(supervisor, redis, local)
        assert await entries(port) == [{b"text": b"kept"}]
    finally:
        await supervisor.stop()


@pytest.fixture
def running_redis(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[int]:
    """A redis-server of the test's own, on a free port with its files in tmp_path, started with the
    persistence arguments of the test's parameter; killed after it."""
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path)]
    process = subprocess.Popen([*argv, *request.param], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not answers("127.0.0.1", port):
            assert process.poll() is None, "redis-server exited"
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.05)
        yield port
    finally:
        process.kill()
        process.wait(10)


@pytest.mark.parametrize(
    ("running_redis", "warned"),
    [
        (["--appendonly", "no", "--save", ""], "keeps nothing on disk"),
        (["--appendonly", "no", "--save", "3600 1"], "keeps only periodic snapshots"),
        (["--appendonly", "yes"], None),
    ],
    indirect=["running_redis"],
    ids=["nothing", "snapshots", "appendonly"],
)
async def test_a_redis_found_running_is_named_when_it_would_lose_posts(
    settings: Settings, running_redis: int, tmp_path: Path, warned: str | None
) -> None:
    local = on_port(settings, running_redis)
    console = io.StringIO()
    supervisor = Supervisor(tmp_path, console)
    await ensure(supervisor, data_services(local, tmp_path / "data")[1], local)
    said = console.getvalue().splitlines()
    assert said[0] == f"run       | redis: using the one at 127.0.0.1:{running_redis}"
    if warned is None:
        assert said[1:] == []
    else:
        assert said[1].startswith("run       | WARNING: Redis ")
        assert warned in said[1]
    assert supervisor.running == []  # used as it is
    assert supervisor.stop_commands == []
