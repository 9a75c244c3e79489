"""The API (FastAPI): the REST reads, ``POST /api/ingest``, the WebSocket ``/ws/sentiment``, the alert loop
and ``/metrics``; OpenAPI at ``/docs``. One ``Backend`` per process holds the connections (docs/api.md)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, WebSocket
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CollectorRegistry
from prometheus_fastapi_instrumentator import Instrumentator

from services.backend import errors, ingest, routes
from services.backend.deps import Backend, websocket_allowed
from services.backend.limits import Guard
from services.common.processes import frozen_heap
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
    # Refusals before any body is read (services/backend/limits.py), inside CORS: a browser can read them.
    app.add_middleware(Guard, settings=settings)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type", "X-API-Key"],
    )
    errors.install(app)
    app.include_router(routes.health_router)
    app.include_router(routes.router)
    app.include_router(ingest.router)

    @app.websocket("/ws/sentiment")
    async def live(socket: WebSocket) -> None:
        """``connected``, then every ``post`` and ``alert`` event as it arrives and a ``metrics_update``
        every WS_METRICS_INTERVAL_S. With API_KEY set, pass it as ``?api_key=`` (or X-API-Key)."""
        if not websocket_allowed(socket):
            await socket.close(code=1008, reason="missing or wrong API key")  # before accept: HTTP 403
            return
        await socket.app.state.backend.hub.serve(socket)

    Instrumentator(registry=registry, excluded_handlers=["/metrics"]).instrument(app).expose(
        app, include_in_schema=False
    )
    return app
