"""`python -m services.ingester replay`: JSON lines and CSV with a field mapping, bad records reported."""

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from services.common.messages import PostMessage
from services.common.names import RedisNames
from services.common.settings import Settings
from services.ingester.replay import ReplayError, parse_mapping
from tests.support import days_ago
from tests.worker.conftest import worker_env

DAY = days_ago(3).date().isoformat()  # within the days kept, whenever the tests run
ROWS = [
    {"id": "a1", "text": "Loving the new update!", "user": {"name": "ann"}, "time": f"{DAY}T10:00:00Z"},
    {"id": "a2", "text": "Worst release ever", "user": {"name": "bob"}, "time": f"{DAY}T10:05:00+01:00"},
    {"id": "a3", "text": "", "user": {"name": "cy"}, "time": f"{DAY}T10:06:00Z"},  # empty content
    {"id": "a4", "text": "no time given", "user": {"name": "dee"}},  # no created_at
    {"id": "a5", "text": "past the calendar", "user": {"name": "eve"}, "time": "9999-12-31T23:59:59-01:00"},
    {"id": "a6", "text": "from the future", "user": {"name": "fay"}, "time": "2999-01-01T00:00:00Z"},
    {"id": "a7", "text": "an archive", "user": {"name": "gus"}, "time": "2024-03-01T10:00:00Z"},  # not kept
]
MAP = [
    "--map",
    "post_id=id",
    "--map",
    "content=text",
    "--map",
    "author=user.name",
    "--map",
    "created_at=time",
]


def replay(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.ingester", "replay", *args],
        env=worker_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def posts(redis: aioredis.Redis, names: RedisNames) -> list[PostMessage]:
    entries: Any = await redis.xrange(names.stream)
    return [PostMessage.from_stream(fields) for _, fields in entries]


async def test_a_jsonl_file_is_replayed_with_its_own_times_and_bad_records_reported(
    settings: Settings, redis: aioredis.Redis, names: RedisNames, tmp_path: Path
) -> None:
    file = tmp_path / "posts.jsonl"
    file.write_text("\n".join(json.dumps(row) for row in ROWS) + "\nnot json\n")
    done = replay(settings, str(file), "--fast", "--source", "forum", *MAP)
    assert done.returncode == 0, done.stderr
    sent = await posts(redis, names)
    assert [(p.post_id, p.author, p.source) for p in sent] == [("a1", "ann", "forum"), ("a2", "bob", "forum")]
    assert sent[1].created_at.isoformat() == f"{DAY}T09:05:00+00:00", "the post's own time, in UTC"
    assert "sent 2 posts" in done.stderr
    assert "6 invalid, skipped" in done.stderr
    # said as the record is read, before anything of it is sent, and again in the summary
    assert "skipped an invalid record (a7): created_at: is older than the 30 days kept" in done.stderr
    assert "content: required" in done.stderr
    assert "created_at: required" in done.stderr
    assert "created_at: timestamp is out of range once converted to UTC" in done.stderr
    assert "ahead of now" in done.stderr
    assert "not a JSON object" in done.stderr


async def test_a_csv_file_is_replayed_at_a_rate(
    settings: Settings, redis: aioredis.Redis, names: RedisNames, tmp_path: Path
) -> None:
    file = tmp_path / "posts.csv"
    with file.open("w", newline="") as out:
        writer = csv.DictWriter(out, ["id", "body", "who", "at"])
        writer.writeheader()
        for i in range(10):
            writer.writerow(
                {"id": f"c{i}", "body": f"post number {i}", "who": "eve", "at": f"{DAY}T00:00:0{i}Z"}
            )
    done = replay(
        settings, str(file), "--rate", "20", "--map", "post_id=id", "--map", "content=body",
        "--map", "author=who", "--map", "created_at=at",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    sent = await posts(redis, names)
    assert [p.post_id for p in sent] == [f"c{i}" for i in range(10)]
    assert {p.source for p in sent} == {"replay"}
    seconds = float(done.stderr.split(" posts in ")[1].split(" s")[0])
    assert seconds >= 0.4, "10 posts at 20/s take about half a second"


def test_a_bad_mapping_is_refused_with_the_way_to_write_it(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="'text' is not a message field"):
        parse_mapping(["text=content"])
    done = replay(settings, str(tmp_path / "x.jsonl"), "--map", "content")
    assert done.returncode == 2
    assert "write it as FIELD=NAME_IN_FILE" in done.stderr
