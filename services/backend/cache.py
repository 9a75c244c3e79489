"""The answer cache: a read's JSON kept in Redis for a TTL, built once per key at a time in a process.

The key is the path and the parameters the route reads (others, such as a cache-busting ``&_=<random>``,
do not make a new key). A build runs while someone waits for it: when every caller has gone (each
client disconnected), it is cancelled, and so is its query."""

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from functools import partial

import redis.asyncio as aioredis
import redis.exceptions
from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from services.common.names import RedisNames
from services.common.redis import REDIS_DOWN

# Whatever Redis answers instead of a value (down, out of memory, loading, a replica...) is a miss: the
# answer is built from PostgreSQL.
CACHE_ERRORS = (redis.exceptions.RedisError, *REDIS_DOWN)

log = logging.getLogger("backend")


def not_kept(request: Request) -> None:
    """Keep none of this request's answers, nor read them from the cache: they are about a topic whose backfill
    runs, and change as it goes (an answer kept from before it ended would show a part of the history)."""
    request.state.keep_answers = False


def kept_for(request: Request, ttl_s: float) -> float:
    """How long this request's answers are kept: ``ttl_s``, or 0 after ``not_kept``."""
    return ttl_s if getattr(request.state, "keep_answers", True) else 0.0


class AnswerCache:
    """Without Redis every answer is built: a cache that does not answer, or answers an error, is a miss."""

    def __init__(self, redis: aioredis.Redis, names: RedisNames, default_ttl_s: float) -> None:
        self.redis = redis
        self.names = names
        self.default_ttl_s = default_ttl_s
        self._building: dict[str, asyncio.Task[bytes]] = {}
        self._waiting: dict[str, int] = {}  # callers of each build still there
        self._known: dict[int, frozenset[str]] = {}  # the query parameters each route reads, by id

    async def response(
        self, request: Request, build: Callable[[], Awaitable[BaseModel]], ttl_s: float | None = None
    ) -> Response:
        """The answer to this path and query: kept for ``ttl_s`` (CACHE_TTL_S unless given)."""
        route = request.scope.get("route")
        known = self._known.get(id(route))
        if known is None:
            known = self._known[id(route)] = _parameters(route)
        query = "&".join(f"{k}={v}" for k, v in sorted(request.query_params.multi_items()) if k in known)
        digest = hashlib.sha1(query.encode(), usedforsecurity=False).hexdigest()
        key = self.names.cache_key(request.url.path, digest)
        ttl_s = kept_for(request, self.default_ttl_s if ttl_s is None else ttl_s)
        hit = await self._hit(key) if ttl_s else None
        if hit is not None:  # most answers: no build to watch over
            return Response(hit, media_type="application/json")
        answer = asyncio.ensure_future(self._built(key, ttl_s, lambda: _json(build)))
        gone = asyncio.ensure_future(_disconnected(request))
        try:
            await asyncio.wait({answer, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not answer.done():  # the client left: it stops waiting, which may cancel the build
                answer.cancel()
        return Response(await answer, media_type="application/json")

    async def kept(self, key: str, ttl_s: float | None, build: Callable[[], Awaitable[bytes]]) -> bytes:
        """The bytes kept under ``key``, or ``build()``'s, then kept for ``ttl_s``."""
        ttl_s = self.default_ttl_s if ttl_s is None else ttl_s
        hit = await self._hit(key) if ttl_s else None
        return hit if hit is not None else await self._built(key, ttl_s, build)

    async def _hit(self, key: str) -> bytes | None:
        try:
            hit = await self.redis.get(key)
        except CACHE_ERRORS as exc:
            log.warning("answer cache unavailable (Redis: %s)", exc)
            return None
        return hit if hit is None or isinstance(hit, bytes) else hit.encode()

    async def _built(self, key: str, ttl_s: float, build: Callable[[], Awaitable[bytes]]) -> bytes:
        """``build()``'s bytes, kept for ``ttl_s`` (0: not kept, built by each caller)."""
        if not ttl_s:
            return await build()
        # One build per key at a time in this process: those asking while it runs wait for it (a page that
        # expired while many viewers ask for it is read once, not once by each).
        building = self._building.get(key)
        # A build cancelled because nobody waited for it any more may not have finished cancelling yet: a
        # newcomer starts its own rather than wait on one that can only end in CancelledError.
        if building is None or building.done() or building.cancelling():
            building = self._building[key] = asyncio.create_task(self._keep(key, ttl_s, build))
            building.add_done_callback(partial(self._forget, key))
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            return await asyncio.shield(building)  # one caller giving up does not cancel the others' answer
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key]
                building.cancel()  # nobody is left to read it (a no-op once it is done)

    def _forget(self, key: str, build: "asyncio.Task[bytes]") -> None:
        if self._building.get(key) is build:  # not a newer build of the same key
            del self._building[key]

    async def _keep(self, key: str, ttl_s: float, build: Callable[[], Awaitable[bytes]]) -> bytes:
        body = await build()
        with contextlib.suppress(*CACHE_ERRORS):
            await self.redis.set(key, body, px=int(ttl_s * 1000))
        return body


async def _json(build: Callable[[], Awaitable[BaseModel]]) -> bytes:
    return (await build()).model_dump_json().encode()


def _parameters(route: object) -> frozenset[str]:
    """The query parameters a route reads, its dependencies' included."""
    if not isinstance(route, APIRoute):
        return frozenset()
    names: set[str] = set()
    todo: list[Dependant] = [route.dependant]
    while todo:
        dependant = todo.pop()
        names.update(param.alias for param in dependant.query_params)
        todo.extend(dependant.dependencies)
    return frozenset(names)


async def _disconnected(request: Request) -> None:
    """Returns once the client has gone (the server says so when the body has been read: a GET has none)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
