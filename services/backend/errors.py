"""The API's domain errors, and the one place each becomes a status code."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

from services.backend.aggregation import TooManyBuckets
from services.common.db.errors import database_away, sqlstate
from services.common.stream import BacklogFull

log = logging.getLogger("backend")
RETRY_AFTER_S = 2


class InvalidParameter(ValueError):
    """A query parameter (or, ``where="body"``, a field of the body) that is well-formed but cannot be
    answered (422 naming it)."""

    def __init__(self, name: str, message: str, where: str = "query") -> None:
        self.name = name
        self.where = where
        super().__init__(message)


class UnknownCursor(InvalidParameter):
    """``before`` names a post that does not exist."""

    def __init__(self, post_id: str) -> None:
        super().__init__("before", f"no post {post_id!r}: pass a post_id you were given")


class StreamUnavailable(RuntimeError):
    """Redis does not answer or refuses writes for now, so nothing can be put on the stream."""


def _invalid(name: str, message: str, where: str = "query") -> JSONResponse:
    # The shape of FastAPI's own validation errors, so a client reads every 422 the same way.
    return JSONResponse({"detail": [{"loc": [where, name], "msg": message}]}, status_code=422)


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer, but one that can always be written: the input it echoes may hold half a
        # surrogate pair (a JSON "\ud800"), which is no UTF-8, and would turn the 422 into a 500.
        return JSONResponse({"detail": _writable(jsonable_encoder(exc.errors()))}, status_code=422)

    @app.exception_handler(InvalidParameter)
    async def invalid(_: Request, exc: InvalidParameter) -> JSONResponse:
        return _invalid(exc.name, str(exc), exc.where)

    @app.exception_handler(TooManyBuckets)
    async def too_many_buckets(_: Request, exc: TooManyBuckets) -> JSONResponse:
        return _invalid("period", str(exc))

    @app.exception_handler(BacklogFull)
    async def backlog_full(_: Request, exc: BacklogFull) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc)}, status_code=429, headers={"Retry-After": str(RETRY_AFTER_S)}
        )

    @app.exception_handler(StreamUnavailable)
    async def stream_unavailable(_: Request, exc: StreamUnavailable) -> JSONResponse:
        log.warning("ingest refused: Redis unavailable (%s)", exc.__cause__)
        return JSONResponse(
            {"detail": "the stream is unavailable: retry later"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        # PostgreSQL away, restarting or cancelling a read past API_STATEMENT_TIMEOUT_MS (57014): a 503 the
        # client can retry. Anything else is a bug, and stays a 500.
        if not database_away(exc):
            raise exc
        return _unavailable(request, sqlstate(exc) or type(exc).__name__)

    # A connection refused or timed out comes as the OS's error, not wrapped by the driver.
    @app.exception_handler(OSError)
    @app.exception_handler(TimeoutError)
    async def peer_away(request: Request, exc: Exception) -> JSONResponse:
        return _unavailable(request, f"{type(exc).__name__}: {exc}")


def _writable(value: Any) -> Any:
    """``value`` with every string made encodable as UTF-8 (a lone surrogate written as ``\\ud800``)."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, list):
        return [_writable(item) for item in value]
    if isinstance(value, dict):
        return {_writable(k): _writable(v) for k, v in value.items()}
    return value


def _unavailable(request: Request, why: str) -> JSONResponse:
    log.warning("%s %s: the database did not answer (%s)", request.method, request.url.path, why)
    return JSONResponse(
        {"detail": "the database is unavailable or the query took too long: retry later"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )
