"""Writing posts onto the stream: XADD in one pipelined round trip, within the backlog limit."""

from collections.abc import Sequence

import redis.asyncio as aioredis

from services.common.messages import PostMessage
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

    async def add(self, posts: Sequence[PostMessage]) -> None:
        """XADD the posts in one pipelined round trip (no backlog check, no retry)."""
        pipe = self.client.pipeline(transaction=False)
        for post in posts:
            pipe.xadd(self.names.stream, post.to_stream())  # type: ignore[arg-type]
        await pipe.execute()

    async def add_within_backlog(self, posts: Sequence[PostMessage]) -> None:
        """The posts added, or BacklogFull and none added."""
        await self.check_room(len(posts))
        await self.add(posts)
