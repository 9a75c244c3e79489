"""The small HTTP server of a process that is not the API (a worker, a live source): ``/metrics`` for
Prometheus and ``/health``, served inside the process's own event loop."""

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

Health = Callable[[], tuple[dict[str, Any], int]]  # the body of /health and its status code


def app(registry: CollectorRegistry, health: Health) -> FastAPI:
    server = FastAPI(title="metrics", docs_url=None, redoc_url=None, openapi_url=None)

    @server.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @server.get("/health")
    def healthy() -> JSONResponse:
        body, status = health()
        return JSONResponse(body, status_code=status)

    return server


def http_server(host: str, port: int, registry: CollectorRegistry, health: Health) -> uvicorn.Server | None:
    """The server on host:port, to serve in the process's own loop; None when the port is 0 (off)."""
    if not port:
        return None
    return _QuietServer(uvicorn.Config(app(registry, health), host=host, port=port, log_level="warning"))


class _QuietServer(uvicorn.Server):
    """uvicorn inside the process's loop: the process, not uvicorn, handles SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
