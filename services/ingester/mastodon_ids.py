"""Which uri a streamed Mastodon status id is (docs/sources.md): a ``delete`` of the streaming API names
only the instance's id of the status, and the platform knows the post by its uri. The uri of each status
sent is remembered in Redis, a hash a day (``mastodon_ids:<day>``) that expires MASTODON_DELETE_DAYS + 1
days after its day, and a delete is looked up in the hashes of those days."""

from datetime import timedelta

import redis.asyncio as aioredis

from services.common.names import RedisNames
from services.common.timestamps import utcnow
from services.ingester.live import Outlet

DAY_S = 86_400


class StatusIds:
    def __init__(self, client: aioredis.Redis, names: RedisNames, days: int) -> None:
        self.client = client
        self.names = names
        self.days = days + 1  # the hashes looked in: the day's own, then as many before
        self._sent: dict[str, str] = {}  # "<instance> <status id>" -> uri, not yet remembered
        self._deleted: list[str] = []  # "<instance> <status id>", not yet looked up

    def sent(self, instance: str, status_id: str, uri: str) -> None:
        self._sent[f"{instance} {status_id}"] = uri

    def deleted(self, instance: str, status_id: str) -> None:
        self._deleted.append(f"{instance} {status_id}")

    @property
    def pending(self) -> bool:
        return bool(self._sent or self._deleted)

    async def settle(self, outlet: Outlet) -> None:
        """Remember what was sent, then queue on ``outlet`` the delete of each deleted status found (one
        never sent here is counted as such). Safe to call again after a failure: nothing is dropped until
        Redis has answered."""
        today = utcnow().date()
        if self._sent:
            key = self.names.mastodon_ids(today.isoformat())
            pipe = self.client.pipeline(transaction=False)
            pipe.hset(key, items=[part for pair in self._sent.items() for part in pair])
            pipe.expire(key, self.days * DAY_S)
            await pipe.execute()
            self._sent = {}
        if self._deleted:
            pipe = self.client.pipeline(transaction=False)
            for back in range(self.days):
                pipe.hmget(self.names.mastodon_ids((today - timedelta(days=back)).isoformat()), self._deleted)
            days = await pipe.execute()
            for i in range(len(self._deleted)):
                uri = next((day[i] for day in days if day[i] is not None), None)
                if uri is None:
                    outlet.skip("delete of a status not sent")
                else:
                    outlet.delete(uri.decode() if isinstance(uri, bytes) else str(uri))
            self._deleted = []
