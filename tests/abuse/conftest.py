"""The abuse suite's API: the real ``python -m services.backend`` in a process of its own (so that its
memory can be read and a crash would show), on the run's database and key prefix, with an ingest token,
a small WebSocket cap and the answer cache on."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.common.settings import Settings
from tests.support import free_port

TOKEN = "abuse-token-0123456789"
WS_MAX_CLIENTS = 3
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Api:
    process: subprocess.Popen[bytes]
    base: str  # http://127.0.0.1:port
    log: Path

    @property
    def rss_mb(self) -> float:
        """The process's resident memory now."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    def alive(self) -> None:
        assert self.process.poll() is None, f"the API died: {self.log.read_text()[-3000:]}"

    def errors_logged(self) -> list[str]:
        """Lines of the API's log that say a request failed (a traceback, a 500)."""
        text = self.log.read_text()
        return [line for line in text.splitlines() if "Traceback" in line or " 500" in line]


@pytest.fixture(scope="session")
def abused(
    settings: Settings, database_url: str, repository: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    port = free_port()
    log = tmp_path_factory.mktemp("abuse") / "backend.log"
    env = {
        "PATH": os.environ["PATH"],
        "HF_HUB_OFFLINE": "1",
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.redis_url,
        "REDIS_KEY_PREFIX": f"{settings.redis_key_prefix}abuse:",
        "TRITON_URL": f"127.0.0.1:{free_port()}",  # none there: health says so, nothing else needs it
        "MODEL_REPOSITORY": str(repository),
        "BACKEND_HOST": "127.0.0.1",
        "BACKEND_PORT": str(port),
        "INGEST_TOKEN": TOKEN,
        "WS_MAX_CLIENTS": str(WS_MAX_CLIENTS),
        "CACHE_TTL_S": "30",
        "FEED_CACHE_TTL_S": "30",
        "LOG_LEVEL": "INFO",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.backend"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    api = Api(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 30
    while True:
        api.alive()
        try:
            httpx.get(f"{api.base}/api/health", timeout=5)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    yield api
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(autouse=True)
def still_standing(abused: Api) -> Iterator[None]:
    """After every test: the API is alive and logged no failure."""
    before = len(abused.errors_logged())
    yield
    abused.alive()
    assert abused.errors_logged()[before:] == []
