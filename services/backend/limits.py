"""What the API refuses before it reads a request body (docs/api.md): a body over API_MAX_BODY_BYTES (413,
from Content-Length, or as a chunked body arrives), and a POST to /api/ingest without the ingest token
(401/403). So an unauthenticated or oversized upload costs the API nothing but its headers.

An ASGI layer in front of the app: FastAPI reads and parses a route's body before it runs the route's
dependencies, so the token check there comes too late to spare the reading.
"""

import json

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.backend.deps import ingest_refusal
from services.common.settings import Settings

INGEST = "/api/ingest"


class Guard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.limit = settings.api_max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The two headers it reads, found in one pass (ASGI gives their names in lower case): every request
        # goes through here.
        length = authorization = b""
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"authorization":
                authorization = value
        if scope["method"] == "POST" and scope["path"] == INGEST:
            refusal = ingest_refusal(self.settings, authorization.decode("latin-1") or None)
            if refusal is not None:
                await _answer(send, refusal)
                return
        if length.isdigit() and int(length) > self.limit:
            await _answer(send, self.too_large())
            return
        await self.app(scope, self._counting(receive), send)

    def too_large(self) -> HTTPException:
        return HTTPException(
            413, f"the request body is over API_MAX_BODY_BYTES ({self.limit} bytes): send less at a time"
        )

    def _counting(self, receive: Receive) -> Receive:
        """``receive``, refusing (413) once a body without a Content-Length passes the limit. FastAPI passes an
        HTTPException raised while it reads a body on as it is."""
        read = 0

        async def counted() -> Message:
            nonlocal read
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > self.limit:
                    raise self.too_large()
            return message

        return counted


async def _answer(send: Send, refusal: HTTPException) -> None:
    body = json.dumps({"detail": refusal.detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in (refusal.headers or {}).items()]
    await send({"type": "http.response.start", "status": refusal.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
