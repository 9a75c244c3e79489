"""POST /api/ingest on the real Redis: off without a token, the bearer token, per-post validation, the
posts on the stream, the 1,000-post limit and 429 over the backlog limit."""

from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from services.common.messages import PostMessage
from services.common.names import RedisNames
from services.common.settings import Settings
from tests.backend.conftest import client_for
from tests.support import days_ago

TOKEN = "ingest-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def post(i: int, **changes: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "post_id": f"in-{i}",
        "source": "twitter",
        "content": f"post {i}",
        "author": "someone",
        "created_at": days_ago(4).isoformat(),
    }
    return fields | changes


@pytest.fixture
async def ingest(settings: Settings, redis: aioredis.Redis) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_for(
        settings.model_copy(update={"ingest_token": SecretStr(TOKEN), "stream_max_backlog": 100})
    ):
        yield client


async def test_without_a_token_configured_the_endpoint_is_off(settings: Settings) -> None:
    async for client in client_for(settings):
        answer = await client.post("/api/ingest", json={"posts": [post(1)]}, headers=AUTH)
        assert answer.status_code == 403
        assert "INGEST_TOKEN" in answer.json()["detail"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
async def test_a_missing_or_wrong_token_is_401(ingest: httpx.AsyncClient, headers: dict[str, str]) -> None:
    answer = await ingest.post("/api/ingest", json={"posts": [post(1)]}, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"


async def test_valid_posts_go_on_the_stream_and_each_bad_one_says_why(
    ingest: httpx.AsyncClient, redis: aioredis.Redis, names: RedisNames
) -> None:
    posts = [
        post(0),
        post(1, created_at="yesterday"),
        post(2, source=""),
        post(3),
        {"content": "no id"},
        post(5, created_at="2001-09-09T01:46:40Z"),
    ]
    answer = await ingest.post("/api/ingest", json={"posts": posts}, headers=AUTH)
    assert answer.status_code == 202
    body = answer.json()
    assert (body["accepted"], body["rejected"]) == (2, 4)
    assert [r["accepted"] for r in body["results"]] == [True, False, False, True, False, False]
    assert [r["post_id"] for r in body["results"]] == ["in-0", "in-1", "in-2", "in-3", None, "in-5"]
    assert body["results"][5]["errors"] == [
        {
            "field": "created_at",
            "message": "is older than the 30 days kept (RETENTION_DAYS): a post that old is not stored",
        }
    ]
    assert body["results"][1]["errors"] == [
        {"field": "created_at", "message": "not an ISO 8601 timestamp: 'yesterday'"}
    ]
    assert body["results"][2]["errors"][0]["field"] == "source"
    assert {e["field"] for e in body["results"][4]["errors"]} == {"post_id", "source", "author", "created_at"}
    entries: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrange(names.stream)  # type: ignore[assignment]
    assert [PostMessage.from_stream(fields).post_id for _, fields in entries] == ["in-0", "in-3"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"posts": []}, "posts"),
        ({"posts": [post(i) for i in range(1001)]}, "posts"),
        ({"posts": ["not an object"]}, "0"),
        ({}, "posts"),
    ],
)
async def test_a_body_that_breaks_the_shape_is_a_422_naming_it(
    ingest: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    answer = await ingest.post("/api/ingest", json=body, headers=AUTH)
    assert answer.status_code == 422
    assert field in [str(part) for part in answer.json()["detail"][0]["loc"]]


async def test_over_the_backlog_limit_nothing_is_added_and_the_answer_is_429(
    ingest: httpx.AsyncClient, redis: aioredis.Redis, names: RedisNames
) -> None:
    first = await ingest.post("/api/ingest", json={"posts": [post(i) for i in range(90)]}, headers=AUTH)
    assert first.json()["accepted"] == 90
    refused = await ingest.post(
        "/api/ingest", json={"posts": [post(i) for i in range(90, 101)]}, headers=AUTH
    )
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "backlog" in refused.json()["detail"]
    assert await redis.xlen(names.stream) == 90
    fits = await ingest.post("/api/ingest", json={"posts": [post(i) for i in range(90, 100)]}, headers=AUTH)
    assert fits.json()["accepted"] == 10


class Body:
    """A request body sent in chunks, without a Content-Length, that records whether anyone read it."""

    def __init__(self, chunks: int, size: int = 1024) -> None:
        self.chunks = chunks
        self.size = size
        self.read = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.read += 1
            yield b" " * self.size


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
async def test_the_token_is_checked_before_the_body_is_read(
    ingest: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    body = Body(chunks=1000)
    answer = await ingest.post("/api/ingest", content=body, headers=headers)
    assert answer.status_code == 401
    assert body.read == 0, "an unauthenticated upload is refused before any of it is read"


async def test_a_body_over_the_limit_is_413_naming_it_before_or_while_it_is_read(
    settings: Settings,
    redis: aioredis.Redis,  # the post that fits goes on the stream: the fixture takes it away after
) -> None:
    limited = settings.model_copy(update={"ingest_token": SecretStr(TOKEN), "api_max_body_bytes": 4096})
    async for client in client_for(limited):
        declared = await client.post("/api/ingest", content=b" " * 5000, headers=AUTH)
        assert declared.status_code == 413
        assert "API_MAX_BODY_BYTES (4096 bytes)" in declared.json()["detail"]
        chunked = Body(chunks=100)
        streamed = await client.post("/api/ingest", content=chunked, headers=AUTH)
        assert streamed.status_code == 413
        assert chunked.read < 10, "reading stopped at the limit"
        fits = await client.post("/api/ingest", json={"posts": [post(1)]}, headers=AUTH)
        assert fits.status_code == 202
