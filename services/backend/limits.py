"""What the API refuses before the app sees a request (docs/api.md), from its headers alone:

- a Host it does not serve (400), against DNS rebinding: a page whose name is made to point at 127.0.0.1
  reaches the API with its own name in Host. /metrics and /api/health answer any Host (probes, scrapers);
- a WebSocket from a page of an origin not in CORS_ORIGINS (403): browsers do not apply CORS to
  WebSockets, so without this any page a user visits could read the live feed;
- a POST to /api/ingest without the ingest token (401/403);
- a body over API_MAX_BODY_BYTES (413, from Content-Length, or as a chunked body arrives).

So an unauthenticated or oversized upload costs the API nothing but its headers. An ASGI layer in front of
the app: FastAPI reads and parses a route's body before it runs the route's dependencies, so the token check
there comes too late to spare the reading.
"""

import fnmatch
import json

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.backend.access import ingest_refusal
from services.common.settings import Settings, without_port

INGEST = "/api/ingest"
ANY_HOST = frozenset({"/metrics", "/api/health"})


class Guard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.limit = settings.api_max_body_bytes
        self.hosts = [host.lower() for host in settings.allowed_hosts]
        self.origins = {origin.lower() for origin in settings.cors_origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        # The headers it reads, found in one pass (ASGI gives their names in lower case): every request
        # goes through here.
        length = authorization = host = origin = b""
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"authorization":
                authorization = value
            elif name == b"host":
                host = value
            elif name == b"origin":
                origin = value
        refusal = self.refusal(scope, host.decode("latin-1"), origin.decode("latin-1"), authorization, length)
        if refusal is not None:
            await answer(scope, send, refusal)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def refusal(
        self, scope: Scope, host: str, origin: str, authorization: bytes, length: bytes
    ) -> HTTPException | None:
        if scope["path"] not in ANY_HOST and not self.serves(host):
            return HTTPException(400, "this API does not serve that Host (ALLOWED_HOSTS, PUBLIC_HOST)")
        if scope["type"] == "websocket":
            # No Origin: not a browser page (a script, a probe), which CORS would not stop either.
            if origin and origin.rstrip("/").lower() not in self.origins:
                return HTTPException(403, "pages of this origin may not open the live feed (CORS_ORIGINS)")
            return None
        if scope["method"] == "POST" and scope["path"] == INGEST:
            refusal = ingest_refusal(self.settings, authorization.decode("latin-1") or None)
            if refusal is not None:
                return refusal
        if length.isdigit() and int(length) > self.limit:
            return self.too_large()
        return None

    def serves(self, host: str) -> bool:
        name = without_port(host.strip().lower())
        return any(allowed == "*" or fnmatch.fnmatchcase(name, allowed) for allowed in self.hosts)

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


async def answer(scope: Scope, send: Send, refusal: HTTPException) -> None:
    """The refusal as a JSON answer; to a WebSocket handshake, as its HTTP answer (or, on a server without
    the denial extension, a close before accepting: 1013, try again later, for a 503; else 1008)."""
    body = json.dumps({"detail": refusal.detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in (refusal.headers or {}).items()]
    kind = "http"
    if scope["type"] == "websocket":
        if "websocket.http.response" not in scope.get("extensions", {}):
            code = 1013 if refusal.status_code == 503 else 1008
            await send({"type": "websocket.close", "code": code, "reason": str(refusal.detail)[:120]})
            return
        kind = "websocket.http"
    await send({"type": f"{kind}.response.start", "status": refusal.status_code, "headers": headers})
    await send({"type": f"{kind}.response.body", "body": body})
