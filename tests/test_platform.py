"""The whole platform as a user starts it (`make run`: `python -m services.launcher`), end to end, in the
order of this file (one platform for all): a post sent through POST /api/ingest arrives on the WebSocket with
its labels, is found in /api/posts and counted in the aggregate; the dashboard works in a real browser
(frontend/e2e/dashboard.mjs), and signs in to an API with API_KEY set (frontend/e2e/signin.mjs); a second
start is refused with a clear message; Ctrl-C stops everything.

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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
import websockets

from services.common.labels import Emotion, Sentiment
from services.common.timestamps import format_utc, utcnow
from services.launcher.plan import FRONTEND, VITE
from services.launcher.supervisor import port_free
from tests.support import free_port, start_platform

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "e2e-ingest-token"
API_KEY = "e2e-dashboard-key-4b1d7c"
ADMIN_TOKEN = "e2e-admin-token-9f3a21"
NODE = shutil.which("node") or "node"


def free_pair() -> int:
    """A free port whose next port is free too (Triton's gRPC and metrics)."""
    while True:
        port = free_port()
        if port < 65_535 and port_free(port + 1):
            return port


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    folder: Path
    env: dict[str, str]
    api: str
    dashboard: str
    started: list[psutil.Process]

    @property
    def log(self) -> Path:
        return self.folder / "launcher.log"

    def tails(self, lines: int = 15) -> str:
        """The last lines of our own services' logs, for a failure message."""
        return "".join(
            f"\n--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
            for log in sorted((self.folder / "logs").glob("*.log"))
            if log.stem.split("-")[0] in {"backend", "worker", "ingester", "dashboard"}
        )


@pytest.fixture(scope="module")
def platform() -> Iterator[Running]:
    """The platform started as `make run` starts it, in a folder of its own (readable by the postgres user
    the launcher runs PostgreSQL as under root); stopped with Ctrl-C at the end if a test has not."""
    folder = Path(tempfile.mkdtemp(prefix="platform-e2e-"))
    folder.chmod(0o755)
    api_port, dashboard_port, triton_port, worker_port = free_port(), free_port(), free_pair(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/sentiment",
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "BACKEND_PORT": str(api_port),
        "DASHBOARD_PORT": str(dashboard_port),
        "CORS_ORIGINS": f"http://127.0.0.1:{dashboard_port}",
        "TRITON_URL": f"127.0.0.1:{triton_port}",
        "WORKER_METRICS_PORT": str(worker_port),
        "INGEST_TOKEN": TOKEN,
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "INGEST_RATE": "2",
        # Alerts quickly, and only for a real burst: a window of one minute needs 60 posts.
        "ALERT_CHECK_INTERVAL_SECONDS": "2",
        "ALERT_WINDOW_MINUTES": "1",
        "ALERT_MIN_POSTS": "60",
        "ALERT_COOLDOWN_MINUTES": "0",
        "WS_METRICS_INTERVAL_S": "5",
        "HF_HUB_OFFLINE": "1",
    }
    process = start_platform(folder, env, workers=1)
    try:
        started = [p for p in psutil.Process(process.pid).children(recursive=True) if p.is_running()]
        yield Running(
            process,
            folder,
            env,
            f"http://127.0.0.1:{api_port}",
            f"http://127.0.0.1:{dashboard_port}",
            started,
        )
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


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
def test_a_post_goes_from_the_api_to_the_websocket_the_feed_and_the_counts(platform: Running) -> None:
    assert len(platform.started) >= 7, (
        platform.started
    )  # postgres, redis, triton, worker, API, ingester, page
    base = psutil.Process().nice()
    for process in platform.started:  # the pipeline gives way to the API when the CPU is short
        command = " ".join(process.cmdline())
        pipeline = "services.worker" in command or "triton" in command
        assert process.nice() == (min(base + 10, 19) if pipeline else base), command
        group = Path(f"/proc/{process.pid}/autogroup")  # where Linux schedules by session groups
        if pipeline and group.exists():
            assert group.read_text().split()[-1] == "10", (command, group.read_text())
    now = utcnow()
    post = {
        "post_id": f"e2e-{now.timestamp():.0f}",
        "source": "e2e",
        "content": "The new update is wonderful, I love how fast everything feels now!",
        "author": "tester",
        "created_at": format_utc(now),
    }
    event = asyncio.run(send_and_follow(platform.api, post))
    assert event["sentiment_label"] in {s.value for s in Sentiment}
    assert event["emotion"] in {e.value for e in Emotion}
    assert event["source"] == "e2e"

    found = httpx.get(f"{platform.api}/api/posts", params={"source": "e2e"}, timeout=10).json()
    assert [p["post_id"] for p in found["posts"]] == [post["post_id"]]
    assert found["posts"][0]["sentiment"]["label"] == event["sentiment_label"]
    assert found["total"] == 1
    counted = httpx.get(
        f"{platform.api}/api/sentiment/aggregate", params={"source": "e2e", "period": "minute"}, timeout=10
    ).json()
    assert counted["summary"]["total_posts"] == 1
    assert counted["summary"][f"{event['sentiment_label']}_total"] == 1
    health = httpx.get(f"{platform.api}/api/health", timeout=10).json()
    assert health["status"] == "healthy", health
    # The dashboard's server passes /api on to the API: same answer through the page's origin.
    through_page = httpx.get(f"{platform.dashboard}/api/posts", params={"source": "e2e"}, timeout=10).json()
    assert through_page["total"] == 1


@pytest.mark.slow
def test_the_dashboard_in_a_real_browser(platform: Running) -> None:
    """frontend/e2e/dashboard.mjs drives Chromium; when it says so, a negative burst goes through the
    ingester (the burst scenario), and an alert must appear on the page. The screenshots it takes are left
    in frontend/e2e/screenshots/ (docs/ holds copies for the README and docs/api.md)."""
    shots = ROOT / "frontend" / "e2e" / "screenshots"
    shots.mkdir(exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    driver = subprocess.Popen(
        [NODE, "e2e/dashboard.mjs", platform.dashboard, str(shots)],
        cwd=ROOT / "frontend",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    burst: subprocess.Popen[bytes] | None = None
    said = []
    try:
        assert driver.stdout is not None
        for line in driver.stdout:
            said.append(line)
            if line.strip() == "burst now" and burst is None:
                burst = subprocess.Popen(
                    [sys.executable, "-m", "services.ingester", "synthetic", "--count", "600"],
                    cwd=ROOT,
                    env={**platform.env, "INGEST_SCENARIO": "burst", "INGEST_RATE": "30", "INGEST_SEED": "7"},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
        code = driver.wait(timeout=300)
    finally:
        for process in (driver, burst):
            if process:
                if process.poll() is None:
                    process.kill()
                process.wait()
        if driver.stdout:
            driver.stdout.close()
    assert code == 0, "".join(said) + platform.tails()
    assert burst is not None, "".join(said)
    for name in ("dashboard.png", "dashboard-alert.png"):
        assert (shots / name).stat().st_size > 10_000


@contextmanager
def serving(
    name: str, argv: list[str], env: dict[str, str], cwd: Path, ready: str, logs: Path
) -> Iterator[None]:
    """``argv`` running, its output in ``logs/name.log``, from when ``ready`` answers 200 (60 s at most)
    to the end of the block."""
    with (logs / f"{name}.log").open("wb") as log:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _answers(ready):
            assert process.poll() is None, f"{name} exited ({process.returncode}): see {log.name}"
            assert time.monotonic() < deadline, f"{name} did not answer {ready} within 60 s"
            time.sleep(0.2)
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
def test_the_dashboard_signs_in_to_an_api_with_a_key(platform: Running) -> None:
    """A second API on the same platform, with API_KEY set, and the built page in front of it:
    frontend/e2e/signin.mjs sees the sign-in form, a wrong key refused, the right one loading the data and
    the live feed, a reload asking nothing, signing out; and the key in no address the browser asked for."""
    api_port, page_port = free_port(), free_port()
    api, page = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{page_port}"
    keyed = {**platform.env, "API_KEY": API_KEY, "BACKEND_PORT": str(api_port), "CORS_ORIGINS": page}
    preview = {**platform.env, "DASHBOARD_PORT": str(page_port), "BACKEND_URL": api}
    shots = ROOT / "frontend" / "e2e" / "screenshots"
    shots.mkdir(exist_ok=True)
    logs = platform.folder / "logs"
    with (
        serving(
            "backend-keyed",
            [sys.executable, "-m", "services.backend"],
            keyed,
            ROOT,
            f"{api}/api/health",
            logs,
        ),
        serving("dashboard-keyed", [str(VITE), "preview"], preview, FRONTEND, f"{page}/", logs),
    ):
        assert httpx.get(f"{api}/api/posts", timeout=10).status_code == 401  # the key is really needed
        driver = subprocess.run(
            [NODE, "e2e/signin.mjs", page, str(shots)],
            cwd=FRONTEND,
            env={**os.environ, "E2E_API_KEY": API_KEY},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert driver.returncode == 0, driver.stdout + driver.stderr + platform.tails()
    assert (shots / "dashboard-sign-in.png").stat().st_size > 5_000


@pytest.mark.slow
def test_the_dashboard_follows_a_topic_made_from_the_page(platform: Running) -> None:
    """frontend/e2e/topics.mjs makes a topic with the admin token, sees its backfilled history, its share of
    voice, authors and hashtags, searches within it, and deletes it."""
    shots = ROOT / "frontend" / "e2e" / "screenshots"
    shots.mkdir(exist_ok=True)
    driver = subprocess.run(
        [NODE, "e2e/topics.mjs", platform.dashboard, str(shots)],
        cwd=FRONTEND,
        env={**os.environ, "E2E_ADMIN_TOKEN": ADMIN_TOKEN},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert driver.returncode == 0, driver.stdout + driver.stderr + platform.tails()
    assert (shots / "dashboard-topic.png").stat().st_size > 10_000
    topics = httpx.get(f"{platform.api}/api/topics", timeout=10).json()
    assert topics["topics"] == [], "the test deletes the topic it made"


@pytest.mark.slow
def test_a_second_start_is_refused_and_ctrl_c_stops_everything(platform: Running) -> None:
    second = subprocess.run(
        [sys.executable, "-m", "services.launcher", "--data", str(platform.folder / "data")],
        cwd=ROOT,
        env=platform.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert second.returncode == 1
    assert f"already running from this folder (pid {platform.process.pid})" in second.stderr

    platform.process.send_signal(signal.SIGINT)  # Ctrl-C
    code = platform.process.wait(timeout=120)
    log = platform.log.read_text()
    assert code == 0, log[-5000:]
    assert "run       | stopped" in log
    left = [p for p in platform.started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert left == [], f"still running after Ctrl-C: {left}"
    names = (
        "backend",
        "worker-1",
        "triton",
        "ingester-synthetic",
        "postgres",
        "redis",
        "migrate",
        "partitions",
        "dashboard",
    )
    for name in names:
        assert (platform.folder / "logs" / f"{name}.log").stat().st_size > 0, f"{name} wrote no log"
