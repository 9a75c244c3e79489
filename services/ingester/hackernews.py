"""The Hacker News source: every new story and comment, from the public Firebase API (docs/sources.md).

Every HACKERNEWS_POLL_S it reads ``maxitem.json`` and fetches the items after its cursor, in order, a few at
a time; stories and comments become posts (the title and the text, HTML made text), jobs and polls are
skipped and counted, as are items already deleted or dead. An item not there yet (``null``, just after
``maxitem`` moved) ends the round: the cursor stops before it and the next round asks again. The cursor is
the last item id handled, written in the MULTI of the XADD that follows it. Hacker News signals no deletes:
each item sent is asked for once more HACKERNEWS_RECHECK_S later, and one deleted or dead by then is deleted
here too.
"""

import argparse
import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import httpx

from services.common.settings import Settings
from services.common.timestamps import utcnow
from services.ingester.connection import reconnecting
from services.ingester.live import Poller, short, text_of_html
from services.ingester.producer import Producer
from services.ingester.source import Source, settings_only

log = logging.getLogger("ingester")
LABEL = "hackernews"
FETCHING = 8  # items asked for at once
ROUND_MAX = 500  # items a round reads at most: a long way behind, it catches up a round at a time
RECHECKS = "ingest_recheck:hackernews"  # sorted set under the prefix: item id -> when to ask again


def item_url(item_id: int) -> str:
    return f"https://news.ycombinator.com/item?id={item_id}"


class HackerNews(Poller):
    def setup(self, settings: Settings) -> None:
        self.poll_s = settings.hackernews_poll_s
        self.base = settings.hackernews_api_url.rstrip("/")
        self.recheck_s = settings.hackernews_recheck_s
        self.cursor: int | None = None
        self.rechecks = self.producer.writer.names.prefix + RECHECKS

    async def run(self) -> None:
        saved = await self.producer.writer.cursor(LABEL)
        self.cursor = int(saved) if saved is not None and saved.isdigit() else None
        self.outlet.set_state("connecting", endpoint=self.base)
        await reconnecting(self.outlet, self.rounds, transient, self.stop)

    async def get(self, path: str) -> Any:
        response = await self.client.get(f"{self.base}/{path}")
        response.raise_for_status()
        return response.json()

    async def round(self) -> None:
        """The items after the cursor up to maxitem (at most ROUND_MAX), then the rechecks that are due."""
        newest = int(await self.get("maxitem.json"))
        if self.cursor is None:
            self.cursor = newest  # a first start reads from now on
            self.producer.advance(LABEL, str(newest))
        ids = list(range(self.cursor + 1, min(newest, self.cursor + ROUND_MAX) + 1))
        for start in range(0, len(ids), FETCHING):
            chunk = ids[start : start + FETCHING]
            items = await asyncio.gather(*(self.get(f"item/{i}.json") for i in chunk))
            for item_id, item in zip(chunk, items, strict=True):
                if item is None:  # not there yet: asked again next round
                    await self.producer.flush()
                    return
                self.handle(item_id, item)
                self.cursor = item_id
                self.producer.advance(LABEL, str(item_id))
            await self.producer.flush()
            await self._schedule(chunk)
        await self.producer.flush()
        await self.recheck()

    def handle(self, item_id: int, item: object) -> bool:
        """One item onto the stream (or skipped); True when it was sent as a post."""
        self.outlet.event()
        if not isinstance(item, dict) or item.get("id") != item_id:
            self.outlet.skip("malformed", f"item {item_id}: {short(item)}")
            return False
        if item.get("deleted") or item.get("dead"):
            self.outlet.skip("deleted")
            return False
        kind = item.get("type")
        if kind not in ("story", "comment"):
            self.outlet.skip("other kind")
            return False
        title = item.get("title") if isinstance(item.get("title"), str) else ""
        body = text_of_html(item["text"]) if isinstance(item.get("text"), str) else ""
        at = item.get("time")
        created = datetime.fromtimestamp(at, UTC) if isinstance(at, int) else None
        author = str(item.get("by") or "")
        return self.outlet.post(
            f"hn:{item_id}", "\n\n".join(p for p in (title, body) if p), author, created, item_url(item_id)
        )

    async def _schedule(self, ids: list[int]) -> None:
        due = utcnow().timestamp() + self.recheck_s
        if ids:
            await self.producer.client.zadd(self.rechecks, dict.fromkeys(map(str, ids), due))

    async def recheck(self) -> None:
        """Items sent a while ago, asked for again: one deleted or dead by now is deleted here too."""
        now = utcnow().timestamp()
        due = await self.producer.client.zrangebyscore(self.rechecks, 0, now, start=0, num=ROUND_MAX)
        ids = [int(raw) for raw in due]  # type: ignore[arg-type]  # ZRANGEBYSCORE without scores: members
        for start in range(0, len(ids), FETCHING):
            chunk = ids[start : start + FETCHING]
            items = await asyncio.gather(*(self.get(f"item/{i}.json") for i in chunk))
            for item_id, item in zip(chunk, items, strict=True):
                if isinstance(item, dict) and (item.get("deleted") or item.get("dead")):
                    self.outlet.delete(f"hn:{item_id}")
            await self.producer.flush()
            await self.producer.client.zrem(self.rechecks, *map(str, chunk))


def transient(exc: BaseException) -> bool:
    """The network, or a server error or rate limit that may pass (a 4xx other than 429 is reported and
    retried too: the API has no other way to be wrong for a while)."""
    return isinstance(exc, httpx.HTTPError | OSError | TimeoutError | ValueError)


async def run(settings: Settings, args: argparse.Namespace, stop: asyncio.Event) -> Producer:
    del args
    return await HackerNews.serve(LABEL, settings, stop)


SOURCE = Source(LABEL, "every new Hacker News story and comment, from its Firebase API", settings_only, run)
