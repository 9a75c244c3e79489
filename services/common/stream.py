"""Writing posts onto the stream: XADD in one pipelined round trip, within the backlog limit; with a source's
cursor, the XADDs and the cursor in one MULTI, so that a source resumes where what it sent ends."""

from collections.abc import Mapping, Sequence

import redis.asyncio as aioredis

from services.common.messages import StreamMessage
from services.common.names import RedisNames


class BacklogFull(RuntimeError):
    """The stream holds STREAM_MAX_BACKLOG posts not yet acknowledged: a producer waits or is refused."""

    def __init__(self, backlog: int, limit: int) -> None:
        self.backlog = backlog
        self.limit = limit
        super().__init__(f"backlog of {backlog} posts is at the limit of {limit}: retry later")


class StreamWriter:
    def __init__(self, client: aioredis.Redis, names: RedisNames, max_backlog: int) -> None:
        self.client = client
        self.names = names
        self.max_backlog = max_backlog

    async def backlog(self) -> int:
        """The stream's length: the workers trim what they have acknowledged, so it is the backlog."""
        return int(await self.client.xlen(self.names.stream))

    async def check_room(self, count: int) -> int:
        """The backlog, if ``count`` more posts fit under STREAM_MAX_BACKLOG; else BacklogFull."""
        backlog = await self.backlog()
        if backlog + count > self.max_backlog:
            raise BacklogFull(backlog, self.max_backlog)
        return backlog

    async def add(self, posts: Sequence[StreamMessage], cursors: Mapping[str, str] | None = None) -> None:
        """XADD the messages in one pipelined round trip (no backlog check, no retry); with ``cursors``
        (source -> position), in a MULTI that also sets those cursors."""
        pipe = self.client.pipeline(transaction=bool(cursors))
        for post in posts:
            pipe.xadd(self.names.stream, post.to_stream())  # type: ignore[arg-type]
        if cursors:
            pipe.hset(self.names.ingest_cursors, items=[part for pair in cursors.items() for part in pair])
        await pipe.execute()

    async def cursor(self, source: str) -> str | None:
        """Where ``source`` resumes: the cursor set with the last messages it sent."""
        value = await self.client.hget(self.names.ingest_cursors, source)
        return None if value is None else value.decode() if isinstance(value, bytes) else str(value)

    async def add_within_backlog(self, posts: Sequence[StreamMessage]) -> None:
        """The posts added, or BacklogFull and none added."""
        await self.check_room(len(posts))
        await self.add(posts)
