"""The whole platform as a user starts it (`make run`: `python -m services.launcher`), end to end: a post sent
through POST /api/ingest arrives on the WebSocket with its labels, is found in /api/posts and counted in the
aggregate; a second start is refused with a clear message; Ctrl-C stops everything it started.

PostgreSQL and Redis are private instances here (URLs on ports nothing answers on), so this also covers the
launcher's way of starting them on a machine without running ones.
"""

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
import websockets

from services.common.labels import Emotion, Sentiment
from services.common.timestamps import format_utc, utcnow
from services.launcher import port_free
from tests.support import free_port

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "e2e-ingest-token"


def free_pair() -> int:
    """A free port whose next port is free too (Triton's gRPC and metrics)."""
    while True:
        port = free_port()
        if port < 65_535 and port_free(port + 1):
            return port


@pytest.fixture
def folder() -> Iterator[Path]:
    """Data and logs of the run, readable by the postgres user the launcher runs PostgreSQL as under root."""
    path = Path(tempfile.mkdtemp(prefix="platform-e2e-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def launcher(folder: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services.launcher",
                "--workers",
                "1",
                "--data",
                str(folder / "data"),
                "--logs",
                str(folder / "logs"),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for_line(process: subprocess.Popen[bytes], log: Path, text: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in log.read_text(errors="replace"):
        assert process.poll() is None, f"the launcher exited with {process.returncode}:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no {text!r} within {timeout_s} s:\n{log.read_text()[-5000:]}"
        time.sleep(0.5)


async def send_and_follow(api: str, post: dict[str, str]) -> dict[str, object]:
    """Send ``post`` through the API and return its ``post`` event from the WebSocket."""
    async with websockets.connect(api.replace("http", "ws") + "/ws/sentiment") as ws:
        assert json.loads(await ws.recv())["type"] == "connected"
        async with httpx.AsyncClient(base_url=api, timeout=10) as client:
            answer = await client.post(
                "/api/ingest", json={"posts": [post]}, headers={"Authorization": f"Bearer {TOKEN}"}
            )
            assert answer.status_code == 202, answer.text
            assert answer.json()["accepted"] == 1
        async with asyncio.timeout(90):
            while True:
                event = json.loads(await ws.recv())
                if event["type"] == "post" and event["data"]["post_id"] == post["post_id"]:
                    return dict(event["data"])


@pytest.mark.slow
def test_the_platform_from_one_command(folder: Path) -> None:
    api_port, triton_port, worker_port = free_port(), free_pair(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/sentiment",
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "BACKEND_PORT": str(api_port),
        "TRITON_URL": f"127.0.0.1:{triton_port}",
        "WORKER_METRICS_PORT": str(worker_port),
        "INGEST_TOKEN": TOKEN,
        "INGEST_RATE": "2",
        "HF_HUB_OFFLINE": "1",
    }
    log = folder / "launcher.log"
    platform = launcher(folder, env, log)
    try:
        wait_for_line(platform, log, "The platform is up.", timeout_s=300)
        started = [p for p in psutil.Process(platform.pid).children(recursive=True) if p.is_running()]
        assert len(started) >= 6, started  # postgres, redis, triton, a worker, the API, the ingester

        second = subprocess.run(
            [sys.executable, "-m", "services.launcher", "--data", str(folder / "data")],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 1
        assert f"already running from this folder (pid {platform.pid})" in second.stderr

        api = f"http://127.0.0.1:{api_port}"
        now = utcnow()
        post = {
            "post_id": f"e2e-{now.timestamp():.0f}",
            "source": "e2e",
            "content": "The new update is wonderful, I love how fast everything feels now!",
            "author": "tester",
            "created_at": format_utc(now),
        }
        event = asyncio.run(send_and_follow(api, post))
        assert event["sentiment_label"] in {s.value for s in Sentiment}
        assert event["emotion"] in {e.value for e in Emotion}
        assert event["source"] == "e2e"

        found = httpx.get(f"{api}/api/posts", params={"source": "e2e"}, timeout=10).json()
        assert [p["post_id"] for p in found["posts"]] == [post["post_id"]]
        assert found["posts"][0]["sentiment"]["label"] == event["sentiment_label"]
        assert found["total"] == 1
        counted = httpx.get(
            f"{api}/api/sentiment/aggregate", params={"source": "e2e", "period": "minute"}, timeout=10
        ).json()
        assert counted["summary"]["total_posts"] == 1
        assert counted["summary"][f"{event['sentiment_label']}_total"] == 1
        health = httpx.get(f"{api}/api/health", timeout=10).json()
        assert health["status"] == "healthy", health
    finally:
        platform.send_signal(signal.SIGINT)  # Ctrl-C
        code = platform.wait(timeout=120)
    assert code == 0, log.read_text()[-5000:]
    assert "run       | stopped" in log.read_text()
    left = [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert left == [], f"still running after Ctrl-C: {left}"
    for name in ("backend", "worker-1", "triton", "ingester", "postgres", "redis", "migrate"):
        assert (folder / "logs" / f"{name}.log").stat().st_size > 0, f"{name} wrote no log"
