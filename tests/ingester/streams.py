"""What the live sources' tests share: a source's outlet on the real Redis, and what reached the stream."""

import redis.asyncio as aioredis

from services.common.messages import PostMessage, StreamMessage, parse_entry
from services.common.names import RedisNames
from services.common.settings import Settings
from services.ingester.language import Languages
from services.ingester.live import Outlet, SourceMetrics
from services.ingester.producer import Producer

KEPT_DAYS = 100_000  # the fixtures' posts are dated months back: nothing is refused for its age


def outlet_for(source: str, settings: Settings, redis: aioredis.Redis, names: RedisNames) -> Outlet:
    """``source``'s outlet, as its sub-command builds it, on the test's Redis prefix."""
    producer = Producer(redis, names, settings.stream_max_backlog, batch=20, retention_days=KEPT_DAYS)
    return Outlet(source, producer, Languages(["en"]), SourceMetrics(), KEPT_DAYS)


async def on_stream(redis: aioredis.Redis, names: RedisNames) -> list[StreamMessage]:
    """Every message on the stream, posts and deletes, in order."""
    return [parse_entry(fields) for _, fields in await redis.xrange(names.stream) or []]  # type: ignore[arg-type]


async def posts_on_stream(redis: aioredis.Redis, names: RedisNames) -> list[PostMessage]:
    return [m for m in await on_stream(redis, names) if isinstance(m, PostMessage)]
