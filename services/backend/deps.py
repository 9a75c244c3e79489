"""What the routes share: the ``Backend`` (engine, Redis, Triton client, live hub, alert service) and the
access checks (the optional API key of the reads and the WebSocket, the ingest endpoint's bearer token)."""

import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request, WebSocket
from fastapi.security import APIKeyHeader, APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry, Gauge
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from services.backend.aggregation import SentimentAggregator
from services.backend.alerts import AlertService
from services.backend.cache import AnswerCache
from services.backend.live import Hub
from services.common.db.engine import create_engine
from services.common.inference.triton_client import TritonClassifier
from services.common.names import RedisNames
from services.common.redis import redis_client
from services.common.settings import Settings
from services.common.stream import StreamWriter
from services.common.timestamps import utcnow


class Backend:
    """Made at start, closed at stop; one per process."""

    def __init__(self, settings: Settings, registry: CollectorRegistry) -> None:
        self.settings = settings
        self.names = RedisNames(settings.redis_key_prefix)
        # A read past API_STATEMENT_TIMEOUT_MS is cancelled by PostgreSQL (answered 503); asyncpg gives up a
        # second later on a server that stopped answering at all; a transaction left idle for two reads' time
        # (the alert turn holds one while it aggregates on another connection) is closed. No stuck query or
        # client holds a connection of the pool.
        timeout_ms = settings.api_statement_timeout_ms
        self.engine: AsyncEngine = create_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            command_timeout_s=timeout_ms / 1000 + 1,
            server_settings={
                "statement_timeout": str(timeout_ms),
                "idle_in_transaction_session_timeout": str(2 * timeout_ms),
            },
        )
        # The reads, on the same pool, outside a transaction: no BEGIN and ROLLBACK round trips around each.
        self.reads: AsyncEngine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.redis = redis_client(settings, "api")
        self.cache = AnswerCache(self.redis, self.names, settings.cache_ttl_s)
        self.stream = StreamWriter(self.redis, self.names, settings.stream_max_backlog)
        self.triton = TritonClassifier(settings.triton_url, settings.model_repository, timeout_s=2.0)
        self.aggregator = SentimentAggregator(self.reads)
        self.dead_letters = Gauge(
            "dead_letters", "Posts set aside, as /api/health last counted them", registry=registry
        )
        self.alerts = AlertService(settings, self.engine, self.redis)
        self.hub = Hub(
            redis_client(settings, "subscriber"),
            self.names.channel,
            capacity=settings.ws_client_queue,
            metrics_interval_s=settings.ws_metrics_interval_s,
            subscription_check_s=settings.ws_subscription_check_s,
            counts=self.counts_since,
            registry=registry,
        )

    async def counts_since(self, span: timedelta) -> dict[str, int]:
        end = utcnow()
        return await self.aggregator.sentiment_counts(end - span, end, None)

    async def close(self) -> None:
        await self.hub.close()
        await self.triton.close()
        await self.redis.aclose()
        await self.engine.dispose()


async def backend(request: Request) -> Backend:
    return request.app.state.backend  # type: ignore[no-any-return]


BackendDep = Annotated[Backend, Depends(backend)]


def _matches(given: str | None, expected: SecretStr) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), expected.get_secret_value().encode())


_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="API_KEY, when the server sets one"
)
_key_query = APIKeyQuery(name="api_key", auto_error=False, description="API_KEY (for WebSocket clients)")


async def api_key(
    request: Request,
    header: Annotated[str | None, Depends(_key_header)],
    query: Annotated[str | None, Depends(_key_query)],
) -> None:
    """With API_KEY set, a read needs it in X-API-Key or ?api_key=; without, reads are open."""
    expected = request.app.state.backend.settings.api_key
    if expected.get_secret_value() and not (_matches(header, expected) or _matches(query, expected)):
        raise HTTPException(401, "missing or wrong API key (X-API-Key header or api_key query parameter)")


def websocket_allowed(socket: WebSocket) -> bool:
    expected = socket.app.state.backend.settings.api_key
    given = socket.headers.get("x-api-key") or socket.query_params.get("api_key")
    return not expected.get_secret_value() or _matches(given, expected)


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
