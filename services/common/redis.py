"""Redis clients, made in one place with the timeouts of their use; what "Redis is down" and "Redis refuses
for now" mean; and whether a Redis keeps what it holds."""

from typing import Any, Literal

import redis.asyncio as aioredis
import redis.exceptions

from services.common.settings import Settings

# What a Redis client raises when the server does not answer (as opposed to a wrong command).
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)

# Replies that refuse a command for a while, not for what it is: loading the data at start (LOADING, a
# ConnectionError in redis-py), a replica or a demoted primary (READONLY), a failed write of the persistence
# files, such as a full disk (MISCONF), memory full under ``maxmemory`` with noeviction (OOM: a command that
# adds data is refused; XACK, XTRIM, XDEL and HDEL, which free memory, still run), a cluster busy (TRYAGAIN).
REFUSING = (
    redis.exceptions.BusyLoadingError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.TryAgainError,
)

Role = Literal["pipeline", "api", "subscriber", "tool"]
# Seconds (read, connect). The pipeline (worker, ingester) waits out a slow Redis; the API answers a viewer,
# so it gives up soon and serves from PostgreSQL. A subscriber has no read timeout: a quiet channel is not
# an error (the live hub pings its subscription instead; no health_check_interval: with it, redis-py 8.1 can
# hang closing a pub/sub cancelled early). A command-line tool takes the library's defaults.
TIMEOUTS: dict[Role, tuple[float | None, float | None]] = {
    "pipeline": (10.0, 5.0),
    "api": (2.0, 2.0),
    "subscriber": (None, 5.0),
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


def redis_refusing(exc: BaseException) -> bool:
    """Whether ``exc`` is a reply that refuses commands for now (see REFUSING), whatever the command."""
    if isinstance(exc, REFUSING):
        return True
    return isinstance(exc, redis.exceptions.ResponseError) and str(exc).startswith("MISCONF")


def redis_unavailable(exc: BaseException) -> bool:
    """Redis down or refusing for now: wait and try again (a producer), or answer 503 (the API)."""
    return redis_down(exc) or redis_refusing(exc)


def no_group(exc: BaseException) -> bool:
    """The consumer group (or its stream) is gone: Redis restarted without its data, or someone removed it
    (NOGROUP; UNBLOCKED for a read that was waiting on it when it went)."""
    return isinstance(exc, redis.exceptions.ResponseError) and str(exc).startswith(("NOGROUP", "UNBLOCKED"))


Persistence = Literal["appendonly", "snapshots", "none", "unknown"]


async def persistence(client: aioredis.Redis) -> Persistence:
    """How this Redis keeps what it holds: the append-only file, periodic snapshots only (a crash loses the
    writes since the last one), nothing (a restart loses everything), or unknown (CONFIG is not allowed,
    as on some managed services)."""
    try:
        found: Any = await client.config_get("appendonly")
        snapshots: Any = await client.config_get("save")
    except redis.exceptions.ResponseError:
        return "unknown"
    if _value(found, "appendonly") == "yes":
        return "appendonly"
    return "snapshots" if _value(snapshots, "save").strip() else "none"


def _value(reply: dict[Any, Any], name: str) -> str:
    value = reply.get(name, reply.get(name.encode(), b""))
    return value.decode() if isinstance(value, bytes) else str(value)


PERSISTENCE_WARNING = {
    "none": "Redis keeps nothing on disk (appendonly no, no save points): a Redis restart loses every post "
    "not yet stored, every pending entry and the consumer group. docs/running.md says how to turn the "
    "append-only file on.",
    "snapshots": "Redis keeps only periodic snapshots (appendonly no): a Redis crash loses the posts "
    "accepted since the last one. docs/running.md says how to turn the append-only file on.",
}
