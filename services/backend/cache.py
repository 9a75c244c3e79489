"""The answer cache: a read's JSON kept in Redis for a TTL, built once per key at a time in a process."""

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
import redis.exceptions
from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel

from services.common.names import RedisNames
from services.common.redis import REDIS_DOWN

# Whatever Redis answers instead of a value (down, out of memory, loading, a replica...) is a miss: the
# answer is built from PostgreSQL.
CACHE_ERRORS = (redis.exceptions.RedisError, *REDIS_DOWN)

log = logging.getLogger("backend")


class AnswerCache:
    """Without Redis every answer is built: a cache that does not answer, or answers an error, is a miss."""

    def __init__(self, redis: aioredis.Redis, names: RedisNames, default_ttl_s: float) -> None:
        self.redis = redis
        self.names = names
        self.default_ttl_s = default_ttl_s
        self._building: dict[str, asyncio.Task[bytes]] = {}

    async def response(
        self, request: Request, build: Callable[[], Awaitable[BaseModel]], ttl_s: float | None = None
    ) -> Response:
        """The answer to this path and query: kept for ``ttl_s`` (CACHE_TTL_S unless given)."""
        query = "&".join(f"{k}={v}" for k, v in sorted(request.query_params.multi_items()))
        digest = hashlib.sha1(query.encode(), usedforsecurity=False).hexdigest()
        key = self.names.cache_key(request.url.path, digest)
        body = await self.kept(key, ttl_s, lambda: _json(build))
        return Response(body, media_type="application/json")

    async def kept(self, key: str, ttl_s: float | None, build: Callable[[], Awaitable[bytes]]) -> bytes:
        """The bytes kept under ``key``, or ``build()``'s, then kept for ``ttl_s``."""
        ttl_s = self.default_ttl_s if ttl_s is None else ttl_s
        if not ttl_s:
            return await build()
        try:
            hit = await self.redis.get(key)
        except CACHE_ERRORS as exc:
            log.warning("answer cache unavailable (Redis: %s)", exc)
            hit = None
        if hit is not None:
            return hit if isinstance(hit, bytes) else hit.encode()
        # One build per key at a time in this process: those asking while it runs wait for it (a page that
        # expired while many viewers ask for it is read once, not once by each).
        building = self._building.get(key)
        if building is None:
            building = self._building[key] = asyncio.create_task(self._keep(key, ttl_s, build))
            building.add_done_callback(lambda _: self._building.pop(key, None))
        return await asyncio.shield(building)  # one caller giving up does not cancel the others' answer

    async def _keep(self, key: str, ttl_s: float, build: Callable[[], Awaitable[bytes]]) -> bytes:
        body = await build()
        with contextlib.suppress(*CACHE_ERRORS):
            await self.redis.set(key, body, px=int(ttl_s * 1000))
        return body


async def _json(build: Callable[[], Awaitable[BaseModel]]) -> bytes:
    return (await build()).model_dump_json().encode()
