"""Keeping a live source connected (docs/sources.md): ``reconnecting``, the loop that runs a source's
session for as long as the ingester runs, with backoff and jitter between failures; ``listen``, the read
loop of a stream source's WebSocket, which sends in bursts and leaves the server at the backlog limit; and
``transient``, which failures may pass."""

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_never
from tenacity.wait import wait_random_exponential
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from services.common.stream import BacklogFull
from services.ingester.live import Outlet

log = logging.getLogger("ingester")
FIRST_RECONNECT_S = 1.0
LONGEST_RECONNECT_S = 60.0
FLUSH_EVERY_S = 0.2  # the longest a post read from a socket waits before it is on the stream
DRAINED_AFTER_S = 0.001  # a socket with no frame for this long has given all it holds


class Dropped(Exception):
    """A connection that worked for a while ended: connect again, from the first short wait."""


async def reconnecting(
    outlet: Outlet,
    session: Callable[[], Awaitable[None]],
    transient: Callable[[BaseException], bool],
    stop: asyncio.Event,
) -> None:
    """Run ``session`` until ``stop``: a failure ``transient`` says may pass is retried after a random wait
    (full jitter, 1 s doubling to 60 s); a session that ran and dropped starts the waits again."""

    def before_sleep(state: object) -> None:
        exc = getattr(getattr(state, "outcome", None), "exception", lambda: None)()
        wait = getattr(state, "upcoming_sleep", 0.0)
        outlet.reconnected(f"{type(exc).__name__}: {exc}"[:300])
        log.warning("%s: %s: %s; connecting again in %.1f s", outlet.source, type(exc).__name__, exc, wait)

    while not stop.is_set():
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(lambda exc: transient(exc) and not stop.is_set()),
                wait=wait_random_exponential(multiplier=FIRST_RECONNECT_S, max=LONGEST_RECONNECT_S),
                stop=stop_never,
                before_sleep=before_sleep,
                reraise=True,
            ):
                with attempt:
                    await session()
        except Dropped as dropped:
            outlet.reconnected(str(dropped))
            log.info("%s: %s; connecting again", outlet.source, dropped)
            # A short random pause: a server that drops everyone at once is not hit by all at once.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), random.uniform(0, FIRST_RECONNECT_S))
            continue
        except Exception:
            if stop.is_set():  # what failed as the ingester stopped is no failure of the source's
                return
            raise
        return


async def listen(
    socket: ClientConnection,
    outlet: Outlet,
    on_frame: Callable[[str | bytes], None],
    send: Callable[[], Awaitable[None]],
    stop: asyncio.Event,
) -> int:
    """Read a stream source's ``socket`` until it closes or ``stop``: each frame to ``on_frame``, what they
    queued out by ``send`` (which raises BacklogFull at the backlog limit and keeps its queue) at each full
    batch, or once the socket has given what it holds, then nothing read for FLUSH_EVERY_S. At the backlog
    limit the source leaves the server rather than buffer without bound, waits for room and returns, to
    resume from its cursor. Returns the frames read."""
    producer = outlet.producer
    received = 0
    try:
        while not stop.is_set():
            try:
                async with asyncio.timeout(DRAINED_AFTER_S):  # recv() is safe to cancel: nothing is lost
                    frame = await socket.recv()
            except TimeoutError:
                frame = None
            if frame is not None:
                received += 1
                on_frame(frame)
                if producer.queued < producer.batch:
                    continue  # more may be waiting in the socket
            try:
                await send()
            except BacklogFull as full:
                log.warning("%s: %s: disconnecting until the workers catch up", outlet.source, full)
                outlet.set_state("waiting_for_backlog", str(full))
                await outlet.report(force=True)
                socket.transport.abort()  # not close(): it waits on a server still sending
                await producer.wait_for_room(stop)
                return received
            await outlet.report()
            if frame is None:
                # All read: the next frames gather in the kernel's socket buffer meanwhile, unread, and
                # come as one burst. Woken for each frame, the Bluesky source took 6.3 % of a core at 100
                # posts a second (cold caches at every wake-up); in bursts, 2.1 %.
                socket.transport.pause_reading()
                try:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), FLUSH_EVERY_S)
                finally:
                    socket.transport.resume_reading()
    except ConnectionClosed as closed:
        log.info("%s: connection closed (%s)", outlet.source, closed)
    finally:
        # What was read and not sent yet, unless the backlog is full: then it is read again from the
        # cursor, which covers only what was sent.
        with contextlib.suppress(BacklogFull):
            await send()
    return received


def transient(exc: BaseException) -> bool:
    """A failure of a stream source that may pass: the network, the server, a handshake refused for now,
    an HTTP request that failed."""
    return isinstance(
        exc, OSError | TimeoutError | ConnectionClosed | InvalidHandshake | httpx.HTTPError
    ) and not isinstance(exc, InvalidURI)
