"""A local Jetstream: a real WebSocket server speaking the v1 ``/subscribe`` protocol (docs/sources.md), for
the tests and the benchmarks, since the real instances are out of reach here.

Scripted (``FakeJetstream(frames)``): the frames in time order, replayed from the ``cursor`` a client asks
for as the real server does (a cursor older than ``oldest_us`` is clamped to it, silently; none: from the
first); a frame given as text is sent as it is (malformed ones). ``drops`` closes the n-th connection after
that many frames. Generated (``python -m tests.fakes.jetstream --rate R``): new posts for ever, at R a
second (0: as fast as it can), dated now.
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tests.support import free_port

Frame = dict[str, Any] | str
DID = "did:plc:yrzxdj6jhsnfkfekxlo34m6n"
T0_US = 1_780_000_000_000_000  # 2026-05-28, a time_us the scripted frames count from


def create(
    n: int, text: str | None = None, langs: list[str] | None = None, time_us: int | None = None
) -> dict[str, Any]:
    """The create event of post number ``n``, as Jetstream sends it (SOURCES.md's capture, trimmed)."""
    record: dict[str, Any] = {
        "$type": "app.bsky.feed.post",
        "createdAt": "2026-05-28T08:15:20.969Z",
        "text": f"I love how the new update works, post number {n}" if text is None else text,
    }
    if langs is not None:
        record["langs"] = langs
    return {
        "did": DID,
        "time_us": T0_US + n * 1000 if time_us is None else time_us,
        "kind": "commit",
        "commit": {
            "rev": f"3lplngr6fux{n}",
            "operation": "create",
            "collection": "app.bsky.feed.post",
            "rkey": f"3lplngryz{n:04d}",
            "record": record,
            "cid": f"bafyrei{n:010d}",
        },
    }


def delete(n: int, time_us: int) -> dict[str, Any]:
    """The delete of post number ``n`` (no record, no cid)."""
    return {
        "did": DID,
        "time_us": time_us,
        "kind": "commit",
        "commit": {
            "rev": f"3lpx{n}",
            "operation": "delete",
            "collection": "app.bsky.feed.post",
            "rkey": f"3lplngryz{n:04d}",
        },
    }


def uri(n: int) -> str:
    return f"at://{DID}/app.bsky.feed.post/3lplngryz{n:04d}"


class FakeJetstream:
    def __init__(
        self, frames: Sequence[Frame] = (), oldest_us: int | None = None, drops: Sequence[int] = ()
    ) -> None:
        self.frames = list(frames)
        self.oldest_us = oldest_us
        self.drops = list(drops)  # connection i closes after drops[i] frames
        self.pace_s = 0.0  # a pause between two frames
        self.port = free_port()
        self.requests: list[str] = []  # each connection's path and query
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/subscribe"

    def cursors(self) -> list[int | None]:
        """The cursor each connection asked for."""
        asked = [parse_qs(urlsplit(path).query).get("cursor") for path in self.requests]
        return [int(c[0]) if c else None for c in asked]

    def _times(self) -> list[int]:
        """Each frame's time_us; a text frame has the time of the frame before it."""
        times, last = [], 0
        for frame in self.frames:
            if isinstance(frame, dict) and isinstance(frame.get("time_us"), int):
                last = frame["time_us"]
            times.append(last)
        return times

    async def _serve(self, socket: ServerConnection) -> None:
        path = socket.request.path if socket.request else ""
        number = len(self.requests)
        self.requests.append(path)
        query = parse_qs(urlsplit(path).query)
        cursor = int(query["cursor"][0]) if "cursor" in query else None
        if cursor is not None and self.oldest_us is not None:
            cursor = max(cursor, self.oldest_us)  # the window: older is clamped, silently
        times = self._times()
        start = 0 if cursor is None else next((i for i, t in enumerate(times) if t >= cursor), len(times))
        limit = self.drops[number] if number < len(self.drops) else None
        try:
            for sent, frame in enumerate(self.frames[start:]):
                if limit is not None and sent >= limit:
                    return  # a drop mid-stream: the connection closes
                await socket.send(frame if isinstance(frame, str) else json.dumps(frame))
                if self.pace_s:
                    await asyncio.sleep(self.pace_s)
            await socket.wait_closed()
        except ConnectionClosed:
            pass

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            async with serve(self._serve, "127.0.0.1", self.port) as server:
                self._server = server
                self._ready.set()
                await server.serve_forever()

        with contextlib.suppress(asyncio.CancelledError):
            asyncio.run(main())

    def __enter__(self) -> Self:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake Jetstream did not start")
        return self

    def __exit__(self, *_: object) -> None:
        if self._loop and self._server:
            self._loop.call_soon_threadsafe(self._server.close)
        self._thread.join(10)


# --- generated, for the benchmarks ------------------------------------------------------------------------

TEXTS = [
    "just watched the finale and I am honestly speechless, what a ride",
    "the train was late again this morning, so tired of this",
    "anyone else think the new phone camera is a big step up?",
    "coffee first, then we talk about the roadmap",
    "this storm is getting scary, stay safe everyone",
    "our keeper saved the match tonight, unbelievable",
]


def generated(seed: int = 1) -> Iterator[str]:
    """Frames for ever: creates (most declaring English, some nothing), a delete now and then, and the
    identity and account events every real stream carries."""
    rng = random.Random(seed)
    for n in itertools.count():
        now_us = int(time.time() * 1_000_000)
        roll = rng.random()
        if roll < 0.02:
            frame: dict[str, Any] = delete(max(0, n - 50), now_us)
        elif roll < 0.03:
            frame = {"did": DID, "time_us": now_us, "kind": "identity", "identity": {"did": DID, "seq": n}}
        else:
            langs = ["en"] if roll < 0.7 else None
            text = f"{rng.choice(TEXTS)} #{n}"
            frame = create(n, text, langs, now_us)
            frame["commit"]["rkey"] = f"b{seed}k{n}"
        yield json.dumps(frame)


async def _generate(socket: ServerConnection, rate: float, seed: int) -> None:
    interval = 1.0 / rate if rate > 0 else 0.0
    next_at = time.monotonic()
    try:
        for frame in generated(seed):
            await socket.send(frame)
            if interval:
                next_at += interval
                delay = next_at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)
    except ConnectionClosed:
        pass


@contextlib.asynccontextmanager
async def generating(port: int, rate: float, seed: int = 1) -> AsyncIterator[Server]:
    async with serve(
        lambda socket: _generate(socket, rate, seed), "127.0.0.1", port, compression=None
    ) as server:
        yield server


def main() -> None:
    parser = argparse.ArgumentParser(description="A local Jetstream sending new posts for ever.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, default=0.0, help="frames a second (0: as fast as it can)")
    args = parser.parse_args()

    async def run() -> None:
        async with generating(args.port, args.rate) as server:
            await server.serve_forever()

    asyncio.run(run())


if __name__ == "__main__":
    main()
