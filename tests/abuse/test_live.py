"""What a stranger can do to the WebSocket: a page of another origin, a client that sends too much, more
clients than the cap. Each is refused at the handshake with a status, or closed with a code."""

import asyncio
import json

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.abuse.conftest import WS_MAX_CLIENTS, Api


def url(abused: Api) -> str:
    return abused.base.replace("http://", "ws://") + "/ws/sentiment"


async def greeted(socket: ClientConnection) -> None:
    assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "connected"


async def drain(socket: ClientConnection) -> None:
    while True:
        await socket.recv()


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://localhost:3001"])
async def test_a_page_of_another_origin_is_refused_at_the_handshake(abused: Api, origin: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url(abused), origin=origin, open_timeout=5):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403
    assert b"CORS_ORIGINS" in refused.value.response.body


@pytest.mark.parametrize("origin", ["http://localhost:3000", "http://127.0.0.1:3000", None])
async def test_the_dashboard_and_scripts_are_served(abused: Api, origin: str | None) -> None:
    async with connect(url(abused), origin=origin, open_timeout=5) as socket:  # type: ignore[arg-type]
        await greeted(socket)


async def test_a_foreign_host_cannot_open_it(abused: Api) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url(abused), additional_headers={"Host": "rebound.example"}, open_timeout=5):
            pass
    assert refused.value.response.status_code == 400


@pytest.mark.parametrize("compression", [None, "deflate"])
async def test_a_frame_over_the_limit_closes_the_client(abused: Api, compression: str | None) -> None:
    async with connect(url(abused), compression=compression, max_size=None, open_timeout=5) as socket:
        await greeted(socket)
        await socket.send("x" * 16_000)  # compresses to a few dozen bytes
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(drain(socket), 5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009
    async with connect(url(abused), open_timeout=5) as socket:  # others are still served
        await greeted(socket)


async def test_past_the_cap_a_client_is_refused_with_503_until_one_leaves(abused: Api) -> None:
    sockets = [await connect(url(abused), open_timeout=5) for _ in range(WS_MAX_CLIENTS)]
    try:
        for socket in sockets:
            await greeted(socket)
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url(abused), open_timeout=5):
                pass
        assert refused.value.response.status_code == 503
        assert b"WS_MAX_CLIENTS" in refused.value.response.body
        await sockets.pop().close()
        for _ in range(50):  # the server sees the close a moment later
            try:
                async with connect(url(abused), open_timeout=5) as socket:
                    await greeted(socket)
                break
            except InvalidStatus:
                await asyncio.sleep(0.1)
        else:
            raise AssertionError("a place freed by a client that left was never given to another")
    finally:
        for socket in sockets:
            await socket.close()
