"""Helpers the tests share (fixtures live in conftest.py)."""

import asyncio
import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.engine import make_url

from services.launcher.tritonserver import EmbeddedTriton

# Empties every table a test writes to; each table keyed by post is named, since a table without a foreign
# key to the posts (the partitioned ones) keeps its rows through a CASCADE.
EMPTY_TABLES = (
    "TRUNCATE social_media_posts, sentiment_analysis, post_topics, post_terms, post_ids, post_tombstones,"
    " sentiment_alerts, topics, dead_letters RESTART IDENTITY CASCADE"
)


def as_role(database_url: str, role: str) -> str:
    """The URL with another user: a role of migration 0004, which the local PostgreSQL lets in (trust)."""
    return make_url(database_url).set(username=role, password=None).render_as_string(hide_password=False)


def days_ago(days: int, hour: int = 12, minute: int = 0) -> datetime:
    """A time of day ``days`` days before today (UTC): posts in tests are dated within RETENTION_DAYS of
    whenever the tests run, since an older post is refused."""
    now = datetime.now(UTC)
    return (now - timedelta(days=days)).replace(hour=hour, minute=minute, second=0, microsecond=0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_triton(repository: Path, log_dir: Path, grpc_port: int | None = None) -> EmbeddedTriton:
    """The real tritonserver serving ``repository`` on 127.0.0.1 (a free port unless given)."""
    server = EmbeddedTriton(
        repository,
        grpc_port=grpc_port or free_port(),
        metrics_port=free_port(),
        log_file=log_dir / "tritonserver.log",
    )
    server.start()
    return server


class LoneRedis:
    """A Redis of the test's own on a free port (the real redis-server), started when the test says."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )


LLM_KEY = "sk-test-0123456789abcdef"  # the fake provider accepts only this key


class LocalServer:
    """A FastAPI app (``_app``) served by uvicorn on a free port in a thread, for a ``with`` block."""

    def __init__(self) -> None:
        self.port = free_port()
        self._server = uvicorn.Server(uvicorn.Config(self._app(), port=self.port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def _app(self) -> FastAPI:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{type(self).__name__} did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)


class Webhook(LocalServer):
    """Receives alert webhooks at ``url``: ``script`` holds the status codes of the next calls (then 200;
    ``slow`` answers after ``slow_s``); ``calls`` records each call's status and JSON body."""

    def __init__(self) -> None:
        self.script: list[int | str] = []
        self.slow_s = 3.0
        self.calls: list[tuple[int | str, Any]] = []
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            answer = self.script.pop(0) if self.script else 200
            self.calls.append((answer, await request.json()))
            if answer == "slow":
                await asyncio.sleep(self.slow_s)
                answer = 200
            return Response(status_code=int(answer))

        return app


class FakeProvider(LocalServer):
    """A local HTTP server that speaks the chat-completions API and plays an LLM provider.

    It labels each post by its words (love/great → positive, joy; hate/worst → negative, anger; else
    neutral), and fails as told: ``script`` holds the modes of the next requests in order (then
    ``mode`` for the rest): ``ok``, ``slow`` (answers after ``slow_s``), ``429`` (with Retry-After: 1),
    ``500``, ``malformed`` (not JSON), ``wrong_labels`` (a sentiment we have no name for), ``missing``
    (one post's result left out). ``requests`` records each request: its time, mode and posts.
    """

    def __init__(self) -> None:
        self.script: list[str] = []
        self.mode = "ok"
        self.slow_s = 5.0
        self.requests: list[dict[str, Any]] = []
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}/v1"

    @staticmethod
    def label(text: str) -> tuple[str, str]:
        words = text.lower()
        if any(w in words for w in ("love", "great", "best", "congrats")):
            return "positive", "joy"
        if any(w in words for w in ("hate", "worst", "awful")):
            return "negative", "anger"
        return "neutral", "neutral"

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def complete(request: Request) -> Response:
            if request.headers.get("authorization") != f"Bearer {LLM_KEY}":
                return JSONResponse({"error": {"message": "invalid api key"}}, status_code=401)
            body = await request.json()
            posts = json.loads(body["messages"][-1]["content"])
            mode = self.script.pop(0) if self.script else self.mode
            self.requests.append({"at": time.time(), "mode": mode, "posts": posts, "model": body["model"]})
            if mode == "429":
                return JSONResponse(
                    {"error": {"message": "rate limited"}}, status_code=429, headers={"retry-after": "1"}
                )
            if mode == "500":
                return JSONResponse({"error": {"message": "overloaded"}}, status_code=500)
            if mode == "slow":
                await asyncio.sleep(self.slow_s)
            results = []
            for post in posts:
                sentiment, emotion = self.label(post["text"])
                results.append(
                    {"id": post["id"], "sentiment": sentiment, "confidence": 0.9, "emotion": emotion}
                )
            if mode == "wrong_labels":
                results[0]["sentiment"] = "ecstatic"
            if mode == "missing":
                results.pop()
            content = (
                "Sure! Here are the labels:" if mode == "malformed" else json.dumps({"results": results})
            )
            return JSONResponse(
                {
                    "id": f"chatcmpl-{len(self.requests)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop",
                        }
                    ],
                }
            )

        return app


PLATFORM_UP = "The platform is up."


def start_platform(folder: Path, env: dict[str, str], workers: int) -> subprocess.Popen[bytes]:
    """``python -m services.launcher`` as ``make run`` starts it, its data and logs under ``folder``, its
    output in ``folder/launcher.log``; returns once it says the platform is up (RuntimeError, with the end
    of its output, when it exits first or takes over 300 s)."""
    log = folder / "launcher.log"
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services.launcher",
                "--workers",
                str(workers),
                "--data",
                str(folder / "data"),
                "--logs",
                str(folder / "logs"),
            ],
            cwd=Path(__file__).resolve().parent.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 300
    while PLATFORM_UP not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.send_signal(signal.SIGINT)  # whatever it started stops
            process.wait(timeout=120)
            raise RuntimeError(f"the platform did not start:\n{log.read_text(errors='replace')[-5000:]}")
        time.sleep(0.5)
    return process
