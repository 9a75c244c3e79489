"""Who may call (docs/api.md): the API key of the reads and the WebSocket, the live tickets that carry it
to a browser's WebSocket, the ingest endpoint's bearer token, and the topic writes' (ADMIN_TOKEN).

The key travels in the X-API-Key header only, never in a URL (URLs land in logs and histories). A browser
cannot set headers on a WebSocket, so the dashboard first asks ``POST /api/live/ticket`` (with the key) for
a ticket: single-use, kept in Redis for LIVE_TICKET_TTL_S so that any API replica can take it, and passed
as ``?ticket=``.
"""

import secrets
from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends, HTTPException, Request, WebSocket
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from services.common.names import RedisNames
from services.common.settings import Settings

LIVE_TICKET_TTL_S = 30  # time enough to open the socket, too short to be worth stealing from a log


def _matches(given: str | None, expected: SecretStr) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), expected.get_secret_value().encode())


_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="API_KEY, when the server sets one"
)


async def api_key(request: Request, header: Annotated[str | None, Depends(_key_header)]) -> None:
    """With API_KEY set, a read needs it in the X-API-Key header; without, reads are open."""
    expected = request.app.state.backend.settings.api_key
    if expected.get_secret_value() and not _matches(header, expected):
        hint = " (the api_key query parameter is not read: keys stay out of URLs)"
        raise HTTPException(
            401,
            "missing or wrong API key: send it in the X-API-Key header"
            + (hint if "api_key" in request.query_params else ""),
        )


class Tickets:
    """Single-use WebSocket tickets in Redis."""

    def __init__(self, redis: aioredis.Redis, names: RedisNames) -> None:
        self.redis = redis
        self.names = names

    async def issue(self) -> str:
        ticket = secrets.token_urlsafe(24)
        await self.redis.set(self.names.live_ticket(ticket), b"1", ex=LIVE_TICKET_TTL_S)
        return ticket

    async def take(self, ticket: str) -> bool:
        """True once for a ticket issued in the last LIVE_TICKET_TTL_S (by any replica), then never."""
        if not 16 <= len(ticket) <= 64:
            return False
        return await self.redis.getdel(self.names.live_ticket(ticket)) is not None


async def live_refusal(socket: WebSocket, settings: Settings, tickets: Tickets) -> str | None:
    """Why a WebSocket may not be served, as the reason of its 403; None when it may. With API_KEY set, it
    needs a ticket (``?ticket=``) or the key in X-API-Key (clients that can set headers)."""
    expected = settings.api_key
    if not expected.get_secret_value() or _matches(socket.headers.get("x-api-key"), expected):
        return None
    ticket = socket.query_params.get("ticket")
    if ticket is None:
        return "needs a ticket (POST /api/live/ticket with the API key) or the X-API-Key header"
    if not await tickets.take(ticket):
        return "the ticket is unknown, used or expired: ask POST /api/live/ticket for another"
    return None


_bearer = HTTPBearer(auto_error=False, description="INGEST_TOKEN")


def ingest_refusal(settings: Settings, authorization: str | None) -> HTTPException | None:
    """Why a request to POST /api/ingest is refused, from its Authorization header alone: off (403) without
    INGEST_TOKEN; with it, the request must bear that token (401). None when it may go on."""
    expected = settings.ingest_token
    if not expected.get_secret_value():
        return HTTPException(403, "ingestion over HTTP is off: the server has no INGEST_TOKEN")
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not _matches(token.strip(), expected):
        return HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})
    return None


async def ingest_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """The same check as the guard in front of the app (services/backend/limits.py), which makes it before
    the body is read; here for the OpenAPI schema, and for an app mounted without the guard."""
    header = f"Bearer {credentials.credentials}" if credentials else None
    refusal = ingest_refusal(request.app.state.backend.settings, header)
    if refusal is not None:
        raise refusal


_admin_bearer = HTTPBearer(auto_error=False, description="ADMIN_TOKEN")


async def admin_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_admin_bearer)]
) -> None:
    """A topic write needs ADMIN_TOKEN as its bearer token (401 without it); with none set, writes are off
    (403)."""
    expected = request.app.state.backend.settings.admin_token
    if not expected.get_secret_value():
        raise HTTPException(403, "topic writes are off: the server has no ADMIN_TOKEN")
    if credentials is None or not _matches(credentials.credentials, expected):
        raise HTTPException(401, "missing or wrong admin token", headers={"WWW-Authenticate": "Bearer"})
