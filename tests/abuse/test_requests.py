"""What a stranger (or a careless client) can send the API over HTTP: every answer a clear 4xx naming what
is wrong, quickly, at little cost, and never a 5xx or a crash."""

import json
import select
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
import redis

from services.common.settings import Settings
from tests.abuse.conftest import TOKEN, Api
from tests.support import days_ago

MIB = 1024 * 1024
OVERFLOWS = ("9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00")
DATED = {  # every endpoint that takes a date, and the names of its date parameters
    "/api/posts": ("start_date", "end_date"),
    "/api/sentiment/aggregate": ("start_date", "end_date"),
    "/api/sentiment/emotions": ("start_date", "end_date"),
    "/api/alerts": ("start_date", "end_date"),
}


def raw_upload(
    base: str, head: dict[str, str], chunks: Iterator[bytes], within_s: float = 5
) -> tuple[int, bytes]:
    """POST /api/ingest on a bare socket, sending ``chunks`` until the API answers; its status and body.
    (An HTTP client would send the whole body before it reads the answer.)"""
    address = urlsplit(base)
    lines = ["POST /api/ingest HTTP/1.1", f"Host: {address.hostname}"] + [
        f"{k}: {v}" for k, v in head.items()
    ]
    deadline = time.monotonic() + within_s
    with socket.create_connection((address.hostname, address.port), timeout=within_s) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        answer = b""
        for chunk in chunks:
            assert time.monotonic() < deadline, f"no answer within {within_s} s"
            if select.select([conn], [], [], 0)[0]:
                break
            try:
                conn.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
        while b"\r\n\r\n" not in answer or len(answer.partition(b"\r\n\r\n")[2]) < _length(answer):
            assert time.monotonic() < deadline, f"no whole answer within {within_s} s: {answer[:200]!r}"
            data = conn.recv(65536)
            if not data:
                break
            answer += data
    head_text, _, body = answer.partition(b"\r\n\r\n")
    return int(head_text.split(b" ")[1]), body


def _length(answer: bytes) -> int:
    for line in answer.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            return int(value)
    return 0


def endless(size: int = 64 * 1024) -> Iterator[bytes]:
    chunk = b"[" + b"x" * (size - 1)
    while True:
        yield chunk


def chunked(size: int = 64 * 1024) -> Iterator[bytes]:
    for chunk in endless(size):
        yield f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"


@pytest.mark.parametrize(
    ("head", "body", "status"),
    [
        # 4 GiB announced, no token: refused on the headers (401), nothing read.
        ({"Content-Length": str(4 * 1024 * MIB), "Content-Type": "application/json"}, endless, 401),
        # With the token, the announced size alone is refused (413).
        (
            {"Content-Length": str(4 * 1024 * MIB), "Authorization": f"Bearer {TOKEN}"},
            endless,
            413,
        ),
        # Chunked (no length known): with the token, read up to API_MAX_BODY_BYTES, then 413.
        ({"Transfer-Encoding": "chunked", "Authorization": f"Bearer {TOKEN}"}, chunked, 413),
        ({"Transfer-Encoding": "chunked"}, chunked, 401),
    ],
    ids=["length-no-token", "length-token", "chunked-token", "chunked-no-token"],
)
def test_an_oversized_body_is_refused_quickly_and_cheaply(
    abused: Api, head: dict[str, str], body: object, status: int
) -> None:
    before = abused.rss_mb
    started = time.monotonic()
    got, text = raw_upload(abused.base, head, body())  # type: ignore[operator]
    took = time.monotonic() - started
    grew = abused.rss_mb - before
    print(f"\n{'+'.join(head)}: {got} in {took:.2f} s, RSS {before:.0f} -> {before + grew:.0f} MB")
    assert got == status, text
    assert grew < 100, f"the API's memory grew by {grew:.0f} MB"
    if status == 413:
        assert "API_MAX_BODY_BYTES" in json.loads(text)["detail"]


def post(abused: Api, body: bytes | str, content_type: str = "application/json") -> httpx.Response:
    return httpx.post(
        f"{abused.base}/api/ingest",
        content=body,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": content_type},
        timeout=10,
    )


GOOD = {
    "post_id": "abuse-1",
    "source": "test",
    "content": "fine",
    "author": "me",
    "created_at": days_ago(2, hour=10).isoformat(),
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"created_at": "0001-01-01T00:00:00+01:00"}, "created_at"),
        ({"created_at": "9999-12-31T23:59:59-01:00"}, "created_at"),
        ({"created_at": "9999-01-01T00:00:00Z"}, "created_at"),  # far ahead of now
        ({"created_at": "2026-11-30T10:00:00"}, "created_at"),  # no offset: a body must say
        ({"content": "\ud800 half a pair"}, "content"),
        ({"post_id": "\udfff"}, "post_id"),
        ({"author": "   "}, "author"),
        ({"content": "x" * 10_001}, "content"),
        ({"content": None}, "content"),
        ({"content": 5}, "content"),
        ({"created_at": 1764496800}, "created_at"),
    ],
)
def test_every_bad_post_is_a_422_naming_its_field(abused: Api, change: dict[str, object], field: str) -> None:
    fields = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    # json.dumps writes a lone surrogate as the escape "\ud800", as a client's JSON would carry it.
    answer = post(abused, json.dumps({"posts": [fields]}))
    assert answer.status_code == 422, answer.text
    (result,) = answer.json()["results"]
    assert not result["accepted"]
    assert [e["field"] for e in result["errors"]] == [field], result


@pytest.mark.parametrize(
    ("body", "content_type", "where"),
    [
        ('{"posts": [', "application/json", "body"),  # not JSON
        ('{"posts": "\\ud800"}', "application/json", "posts"),  # a lone surrogate where a list goes
        ('{"posts": []}', "application/json", "posts"),
        ('{"rows": []}', "application/json", "posts"),
        ("[]", "application/json", "body"),
        ("posts=1", "application/x-www-form-urlencoded", "body"),
        (json.dumps({"posts": [GOOD]}), "text/plain", "body"),
    ],
    ids=["invalid-json", "surrogate", "empty", "missing", "wrong-type", "form", "text-plain"],
)
def test_a_body_that_is_no_batch_is_a_422(abused: Api, body: str, content_type: str, where: str) -> None:
    answer = post(abused, body, content_type)
    assert answer.status_code == 422, answer.text
    locations = [error["loc"] for error in answer.json()["detail"]]
    assert any(where in map(str, loc) for loc in locations), locations


def test_a_batch_with_one_good_post_is_accepted_and_says_which_was_not(abused: Api) -> None:
    bad = {**GOOD, "post_id": "abuse-2", "created_at": "9999-12-31T23:59:59-01:00"}
    answer = post(abused, json.dumps({"posts": [GOOD, bad]}))
    assert answer.status_code == 202, answer.text
    assert [r["accepted"] for r in answer.json()["results"]] == [True, False]


@pytest.mark.parametrize("path", DATED)
@pytest.mark.parametrize("overflow", OVERFLOWS)
def test_a_date_past_the_calendar_is_a_422_naming_it(abused: Api, path: str, overflow: str) -> None:
    for name in DATED[path]:
        answer = httpx.get(f"{abused.base}{path}", params={name: overflow}, timeout=10)
        assert answer.status_code == 422, (name, answer.text)
        assert answer.json()["detail"][0]["loc"] == ["query", name]


@pytest.mark.parametrize("path", DATED)
def test_a_date_without_an_offset_is_read_as_utc(abused: Api, path: str) -> None:
    params = {"start_date": "2026-11-30T09:00:00", "end_date": "2026-11-30T10:00:00"}
    answer = httpx.get(f"{abused.base}{path}", params=params, timeout=10)
    assert answer.status_code == 200, answer.text
    if "start_date" in answer.json():
        assert answer.json()["start_date"] == "2026-11-30T09:00:00Z"


@pytest.mark.parametrize("path", ["/api/posts", "/api/alerts"])
def test_offsets_past_the_cap_are_refused_naming_the_cursor(abused: Api, path: str) -> None:
    assert httpx.get(f"{abused.base}{path}", params={"offset": 10_000}, timeout=10).status_code == 200
    answer = httpx.get(f"{abused.base}{path}", params={"offset": 1_000_000}, timeout=10)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["query", "offset"]


@pytest.mark.parametrize(
    ("name", "value"), [("sentiment", "furious"), ("emotion", "smug"), ("period", "year")]
)
def test_an_unknown_label_is_a_422_naming_the_parameter(abused: Api, name: str, value: str) -> None:
    path = "/api/sentiment/aggregate" if name == "period" else "/api/posts"
    answer = httpx.get(f"{abused.base}{path}", params={name: value}, timeout=10)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["query", name]


def test_parameters_a_route_does_not_read_make_no_new_cache_entry(abused: Api, settings: Settings) -> None:
    for bust in range(5):
        params = {"hours": 3, "_": bust}
        answer = httpx.get(f"{abused.base}/api/sentiment/distribution", params=params, timeout=10)
        assert answer.status_code == 200
    with redis.Redis.from_url(settings.redis_url) as client:
        keys = list(client.scan_iter(match=f"{settings.redis_key_prefix}abuse:*distribution*"))
    assert len(keys) == 1, keys


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.nip.io:8000", "localhost.evil.example"])
def test_a_foreign_host_is_refused_but_probes_answer_any(abused: Api, host: str) -> None:
    answer = httpx.get(f"{abused.base}/api/posts", headers={"Host": host}, timeout=10)
    assert answer.status_code == 400
    assert "ALLOWED_HOSTS" in answer.json()["detail"]
    for probe in ("/api/health", "/metrics"):
        assert httpx.get(f"{abused.base}{probe}", headers={"Host": host}, timeout=10).status_code in (
            200,
            503,
        )
    assert (
        httpx.get(f"{abused.base}/api/posts", headers={"Host": "localhost:8000"}, timeout=10).status_code
        == 200
    )
