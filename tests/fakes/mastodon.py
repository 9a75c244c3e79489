"""A local Mastodon instance: a real HTTP server answering the REST timelines the source reads
(``/api/v1/timelines/public`` and ``/api/v1/timelines/tag/<tag>``) from ``statuses``, with ``limit`` and
``min_id`` as Mastodon's documentation says (the statuses just after ``min_id``, newest first) and its
rate-limit headers; ``status_code`` answers every request with that code instead (401: public timelines
disabled; 429 with ``Retry-After``).

With ``token`` it streams too: ``/api/v2/instance`` names its streaming host, and the WebSocket
``/api/v1/streaming`` (a Bearer token other than ``token``: 401 at the handshake) takes ``subscribe``
messages and sends each subscriber the frames of ``live`` (``frame()``) whose stream it asked for, in order.
A frame is news once sent: an update's status joins ``statuses`` (REST sees it) as it is sent, and a frame
that nobody connected heard is gone. ``drops`` closes the n-th connection after that many frames, and the
``lost`` frames after it happen while nobody listens (their statuses still join ``statuses``)."""

import asyncio
import contextlib
import json
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from tests.support import LocalServer

Frame = dict[str, Any] | str


class FakeMastodon(LocalServer):
    def __init__(
        self,
        statuses: list[dict[str, Any]],
        token: str = "",
        live: Sequence[Frame] = (),
        drops: list[int] | None = None,
        lost: int = 0,
    ) -> None:
        self.statuses = statuses
        self.status_code: int | None = None
        self.remaining = 300
        self.asked: list[dict[str, str]] = []
        self.token = token
        self.live: list[Frame] = list(live)
        self.drops = list(drops or [])
        self.lost = lost
        self.subscribed: list[list[dict[str, str]]] = []  # each connection's subscriptions
        self.authorizations: list[str] = []  # each REST request's Authorization header
        super().__init__()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _publish(self, frame: Frame) -> None:
        if isinstance(frame, dict) and frame.get("event") == "update":
            self.statuses.append(json.loads(frame["payload"]))

    def _app(self) -> FastAPI:
        app = FastAPI()

        def page(request: Request, tag: str | None) -> JSONResponse:
            self.asked.append(dict(request.query_params) | ({"tag": tag} if tag else {}))
            self.authorizations.append(request.headers.get("authorization", ""))
            self.remaining -= 1
            headers = {
                "X-RateLimit-Limit": "300",
                "X-RateLimit-Remaining": str(max(0, self.remaining)),
                "X-RateLimit-Reset": "2099-01-01T00:00:00.000Z",
            }
            if self.status_code is not None:
                return JSONResponse(
                    {"error": "no"}, status_code=self.status_code, headers=headers | {"Retry-After": "60"}
                )
            limit = int(request.query_params.get("limit", 20))
            min_id = int(request.query_params.get("min_id", 0))
            chosen = [s for s in self.statuses if tag is None or tag.lower() in s.get("tags_", [])]
            after = sorted((s for s in chosen if int(s["id"]) > min_id), key=lambda s: int(s["id"]))[:limit]
            return JSONResponse(
                [{k: v for k, v in s.items() if k != "tags_"} for s in reversed(after)], headers=headers
            )

        @app.get("/api/v1/timelines/public")
        def public(request: Request) -> JSONResponse:
            return page(request, None)

        @app.get("/api/v1/timelines/tag/{tag}")
        def hashtag(tag: str, request: Request) -> JSONResponse:
            return page(request, tag)

        @app.get("/api/v2/instance")
        def instance() -> JSONResponse:
            urls = {"streaming": f"ws://127.0.0.1:{self.port}"} if self.token else {}
            return JSONResponse({"domain": "127.0.0.1", "configuration": {"urls": urls}})

        @app.websocket("/api/v1/streaming")
        async def streaming(socket: WebSocket) -> None:
            if not self.token or socket.headers.get("authorization") != f"Bearer {self.token}":
                await socket.send_denial_response(
                    JSONResponse({"error": "Invalid access token"}, status_code=401)
                )
                return
            await socket.accept()
            subscriptions: list[dict[str, str]] = []
            self.subscribed.append(subscriptions)
            limit = self.drops.pop(0) if self.drops else None

            async def subscribing() -> None:
                with contextlib.suppress(WebSocketDisconnect):
                    while True:
                        subscriptions.append(await socket.receive_json())

            listening = asyncio.create_task(subscribing())
            try:
                while not subscriptions:
                    await asyncio.sleep(0.01)
                sent = 0
                while self.live and (limit is None or sent < limit):
                    frame = self.live.pop(0)
                    self._publish(frame)
                    if _wanted(frame, subscriptions):
                        await socket.send_text(frame if isinstance(frame, str) else json.dumps(frame))
                        sent += 1
                    await asyncio.sleep(0)
                if limit is not None:
                    for frame in self.live[: self.lost]:
                        self._publish(frame)
                    del self.live[: self.lost]
                    await socket.close()
                    return
                await listening
            except WebSocketDisconnect:
                pass
            finally:
                listening.cancel()

        return app


def _wanted(frame: Frame, subscriptions: list[dict[str, str]]) -> bool:
    if isinstance(frame, str) or "stream" not in frame:
        return True
    stream = frame["stream"]
    return any(
        stream[:1] == [s.get("stream")]
        and ("tag" not in s or [t.lower() for t in stream[1:2]] == [s["tag"].lower()])
        for s in subscriptions
    )


def frame(event: str, payload: dict[str, Any] | str, stream: list[str] | None = None) -> dict[str, Any]:
    """A message of the streaming API: its payload (a status, or a deleted status's id) as a JSON string."""
    return {
        "stream": stream or ["public"],
        "event": event,
        "payload": payload if isinstance(payload, str) else json.dumps(payload),
    }


def status(n: int, html: str, instance: str = "mastodon.social", **more: Any) -> dict[str, Any]:
    """Status number ``n`` as an instance's REST API gives it (the fields the source reads)."""
    return {
        "id": str(110_000_000_000_000_000 + n),
        "uri": f"https://{instance}/users/ann/statuses/{n}",
        "url": f"https://{instance}/@ann/{n}",
        "created_at": "2026-12-01T10:00:00.000Z",
        "language": "en",
        "content": html,
        "spoiler_text": "",
        "visibility": "public",
        "account": {"id": "1", "acct": "ann@" + instance, "display_name": "Ann", "bot": False},
        "reblog": None,
        **more,
    }
