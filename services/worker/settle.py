"""The end of a batch: its dead letters kept, its events published, its entries acknowledged."""

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from services.common.events import DeletedData, DeletedEvent, PostData, PostEvent, encode_event
from services.common.messages import DeleteMessage
from services.worker import dead_letters
from services.worker.batch import Refused
from services.worker.stream import Entry

if TYPE_CHECKING:
    from services.worker.worker import Worker

log = logging.getLogger("worker")


async def settle(
    worker: "Worker",
    events: list[PostData],
    dead: list[Refused],
    batch: list[Entry],
    deleted: Sequence[DeleteMessage] = (),
) -> None:
    """Keep the dead letters (in PostgreSQL, first: an entry is acknowledged only once it is stored or
    kept), then publish the posts stored and the posts deleted, and acknowledge."""
    if dead:
        letters = [(entry.id, entry.fields, reason) for entry, reason in dead]
        async with worker.sessions() as session:
            await dead_letters.keep(session, letters, worker.consumer)
    published = [encode_event(PostEvent(data=event)) for event in events]
    published += [encode_event(DeletedEvent(data=DeletedData.of(gone))) for gone in deleted]
    await worker.stream.settle(published, batch)
    for entry, reason in dead:
        log.warning("dead-lettered %s: %s", entry.id, reason)
    worker.metrics.dead_lettered.inc(len(dead))
    worker.metrics.processed.inc(len(batch) - len(dead))
