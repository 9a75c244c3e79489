"""The API (FastAPI): the REST reads, ``POST /api/ingest``, the WebSocket ``/ws/sentiment``, the alert loop
and ``/metrics``; OpenAPI at ``/docs``. One ``Backend`` per process holds the connections (docs/api.md)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.exceptions
from fastapi import FastAPI, HTTPException, WebSocket
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CollectorRegistry
from prometheus_fastapi_instrumentator import Instrumentator

from services.backend import errors, ingest, limits, routes, topics, voices
from services.backend.access import live_refusal
from services.backend.deps import Backend
from services.backend.topics import subscribed_topics
from services.common.processes import frozen_heap
from services.common.redis import REDIS_DOWN
from services.common.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    registry = CollectorRegistry()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.backend = b = Backend(settings, registry)
        b.hub.start()
        alerts = asyncio.create_task(b.alerts.run())
        try:
            with frozen_heap():
                yield
        finally:
            alerts.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await alerts
            await b.close()

    app = FastAPI(title="Sentiment platform API", lifespan=lifespan)
    # Refusals from the headers alone (services/backend/limits.py), inside CORS: a browser can read them.
    app.add_middleware(limits.Guard, settings=settings)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-API-Key"],
    )
    errors.install(app)
    app.include_router(routes.health_router)
    app.include_router(routes.router)
    app.include_router(ingest.router)
    app.include_router(topics.router)
    app.include_router(voices.router)

    @app.websocket("/ws/sentiment")
    async def live(socket: WebSocket) -> None:
        """``connected``, then every ``post`` and ``alert`` event as it arrives and a ``metrics_update``
        every WS_METRICS_INTERVAL_S. With API_KEY set, pass a ticket from ``POST /api/live/ticket`` as
        ``?ticket=`` (or the key in X-API-Key). ``?topic=<id>`` (repeatable) subscribes to those topics: of the
        posts, only theirs are sent. Refused at the handshake: 403 (a foreign origin, no key or ticket), 404 (a
        topic that is none), 422 (a topic id that is no id), 503 (WS_MAX_CLIENTS reached, or Redis away to
        check the ticket)."""
        b: Backend = socket.app.state.backend
        if b.hub.full:
            await _refuse(
                socket, b, 503, "full", f"the live feed is full (WS_MAX_CLIENTS={b.hub.max_clients})"
            )
            return
        try:
            why = await live_refusal(socket, settings, b.tickets)
        except (redis.exceptions.RedisError, *REDIS_DOWN):
            await _refuse(socket, b, 503, "redis", "the ticket cannot be checked now (Redis): retry")
            return
        if why is not None:
            await _refuse(socket, b, 403, "unauthenticated", why)
            return
        try:
            topics = await subscribed_topics(b, socket.query_params.getlist("topic"))
        except HTTPException as refusal:
            await _refuse(socket, b, refusal.status_code, "topic", str(refusal.detail))
            return
        await b.hub.serve(socket, topics)

    Instrumentator(registry=registry, excluded_handlers=["/metrics"]).instrument(app).expose(
        app, include_in_schema=False
    )
    return app


async def _refuse(socket: WebSocket, backend: Backend, status: int, kind: str, why: str) -> None:
    """Refuse a handshake with an HTTP answer the client can read, where the server can send one; counted
    by ``kind`` in websocket_clients_refused."""
    backend.hub.refused.labels(kind).inc()
    await limits.answer(socket.scope, socket.send, HTTPException(status, why))
