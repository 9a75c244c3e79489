"""The worker's Prometheus metrics, and the small HTTP server for ``/metrics`` and ``/health``."""

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry()
        self.processed = Counter(
            "worker_posts_processed", "Posts stored (or found stored) and acknowledged", registry=r
        )
        self.failed = Counter(
            "worker_posts_failed", "Lone attempts at a post that failed (an outage aside)", registry=r
        )
        self.dead_lettered = Counter(
            "worker_posts_dead_lettered", "Posts dead-lettered (kept in PostgreSQL)", registry=r
        )
        self.batch_seconds = Histogram(
            "worker_batch_seconds", "From read to acknowledgement, per batch", registry=r
        )
        self.lag = Gauge(
            "worker_consumer_lag", "Entries in the stream not yet delivered to the group", registry=r
        )
        self.pending = Gauge(
            "worker_pending", "Entries delivered to the group and not yet acknowledged", registry=r
        )
        self.paused = Gauge(
            "worker_paused", "1 while a dependency is down and reading has stopped", registry=r
        )


Health = Callable[[], tuple[dict[str, Any], int]]  # the body of /health and its status code


def app(registry: CollectorRegistry, health: Health) -> FastAPI:
    server = FastAPI(title="worker", docs_url=None, redoc_url=None, openapi_url=None)

    @server.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @server.get("/health")
    def healthy() -> JSONResponse:
        body, status = health()
        return JSONResponse(body, status_code=status)

    return server


def http_server(host: str, port: int, registry: CollectorRegistry, health: Health) -> uvicorn.Server | None:
    """The server on host:port, to serve in the worker's own loop; None when the port is 0 (off)."""
    if not port:
        return None
    return _QuietServer(uvicorn.Config(app(registry, health), host=host, port=port, log_level="warning"))


class _QuietServer(uvicorn.Server):
    """uvicorn inside the worker's loop: the worker, not uvicorn, handles SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
