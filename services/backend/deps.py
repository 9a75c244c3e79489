"""What the routes share: the ``Backend`` (engine, Redis, Triton client, live hub and tickets, alert service);
who may call is services/backend/access.py."""

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy.ext.asyncio import AsyncEngine

from services.backend.access import Tickets
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
        self.tickets = Tickets(self.redis, self.names)
        self.hub = Hub(
            redis_client(settings, "subscriber"),
            self.names.channel,
            capacity=settings.ws_client_queue,
            max_clients=settings.ws_max_clients,
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
