"""Redis clients, made in one place with the timeouts of their use, and what "Redis is down" means."""

from typing import Literal

import redis.asyncio as aioredis
import redis.exceptions

from services.common.settings import Settings

# What a Redis client raises when the server does not answer (as opposed to a wrong command).
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)

Role = Literal["pipeline", "api", "subscriber", "tool"]
# Seconds (read, connect). The pipeline (worker, ingester) waits out a slow Redis; the API answers a viewer,
# so it gives up soon and serves from PostgreSQL. A subscriber has no read timeout: a quiet channel is not
# an error (TCP keepalive instead; no health_check_interval: with it, redis-py 8.1 can hang closing a
# pub/sub cancelled early). A command-line tool takes the library's defaults.
TIMEOUTS: dict[Role, tuple[float | None, float | None]] = {
    "pipeline": (10.0, 5.0),
    "api": (2.0, 2.0),
    "subscriber": (None, None),
    "tool": (None, None),
}


def redis_client(settings: Settings, role: Role) -> aioredis.Redis:
    """A client of REDIS_URL with the timeouts of ``role``."""
    read, connect = TIMEOUTS[role]
    return aioredis.Redis.from_url(
        settings.redis_url,
        socket_timeout=read,
        socket_connect_timeout=connect,
        socket_keepalive=role == "subscriber",
    )


def redis_down(exc: BaseException) -> bool:
    """Whether ``exc`` says that Redis did not answer."""
    return isinstance(exc, REDIS_DOWN)
