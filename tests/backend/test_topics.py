"""``/api/topics`` on the real PostgreSQL, as the API's own role: topics made, read, changed and deleted
with ADMIN_TOKEN, their queries checked by the ``listening`` configuration, names unique whatever their
case, at most MAX_TOPICS; their tags backfilled, replaced by a change and deleted with them."""

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.backend import feed
from services.common.db.engine import create_engine, session_factory
from services.common.db.models import TEXT_SEARCH, TEXT_VECTOR
from services.common.db.roles import API_ROLE, WORKER_ROLE
from services.common.labels import Sentiment
from services.common.settings import Settings
from services.worker.store import StoredPost, write
from services.worker.tagging import backfill_step
from tests.backend.conftest import client_for
from tests.support import as_role
from tests.worker.test_tagging import NOW, TEXTS, assert_exact, rows, tags

TOKEN = "admin-token-for-the-tests"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def api(settings: Settings, session: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    del session  # empties the topics after the test
    served = settings.model_copy(
        update={
            "database_url": as_role(settings.database_url, API_ROLE),
            "admin_token": SecretStr(TOKEN),
            "max_topics": 3,
        }
    )
    async for client in client_for(served):
        yield client


def where(answer: httpx.Response) -> list[object]:
    return list(answer.json()["detail"][0]["loc"])


async def test_a_topic_is_made_read_changed_and_deleted(api: httpx.AsyncClient) -> None:
    made = await api.post(
        "/api/topics",
        json={"name": "Phone launch", "query": '"new phone" or #PhoneLaunch -rumour', "languages": ["en-GB"]},
        headers=ADMIN,
    )
    assert made.status_code == 201, made.text
    topic = made.json()
    assert (topic["name"], topic["sources"], topic["languages"]) == ("Phone launch", None, ["en"])
    assert (await api.get(f"/api/topics/{topic['id']}")).json() == topic
    listed = (await api.get("/api/topics")).json()
    assert (listed["topics"], listed["max_topics"]) == ([topic], 3)

    changed = await api.patch(
        f"/api/topics/{topic['id']}",
        json={"query": "@alice.bsky.social", "sources": ["bluesky", "bluesky"]},
        headers=ADMIN,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["query"], changed.json()["sources"], changed.json()["name"]) == (
        "@alice.bsky.social",
        ["bluesky"],
        "Phone launch",
    )
    assert changed.json()["updated_at"] >= topic["updated_at"]
    widened = await api.patch(f"/api/topics/{topic['id']}", json={"sources": None}, headers=ADMIN)
    assert widened.json()["sources"] is None

    assert (await api.delete(f"/api/topics/{topic['id']}", headers=ADMIN)).status_code == 204
    gone = await api.get(f"/api/topics/{topic['id']}")
    assert gone.status_code == 404
    assert f"no topic {topic['id']}" in gone.json()["detail"]
    assert (await api.delete(f"/api/topics/{topic['id']}", headers=ADMIN)).status_code == 404


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("   ", "no word to match"),
        ("the and of", "no word to match"),
        ("-apple", "no word a post must contain"),
        ("apple or -banana", "no word a post must contain"),
        (" ".join(f"word{i}" for i in range(31)), "at most 30"),
    ],
)
async def test_a_query_that_matches_nothing_or_everything_is_refused_by_name(
    api: httpx.AsyncClient, query: str, says: str
) -> None:
    answer = await api.post("/api/topics", json={"name": "t", "query": query}, headers=ADMIN)
    assert answer.status_code == 422, answer.text
    assert where(answer) == ["body", "query"]
    assert says in answer.json()["detail"][0]["msg"]


async def test_a_name_taken_in_any_case_or_one_topic_too_many_is_a_409(api: httpx.AsyncClient) -> None:
    first = await api.post("/api/topics", json={"name": "Apple", "query": "apple"}, headers=ADMIN)
    assert first.status_code == 201
    again = await api.post("/api/topics", json={"name": "apple", "query": "iphone"}, headers=ADMIN)
    assert again.status_code == 409
    assert "exists already" in again.json()["detail"]
    other = (await api.post("/api/topics", json={"name": "Pear", "query": "pear"}, headers=ADMIN)).json()
    renamed = await api.patch(f"/api/topics/{other['id']}", json={"name": "APPLE"}, headers=ADMIN)
    assert renamed.status_code == 409
    assert (
        await api.post("/api/topics", json={"name": "Plum", "query": "plum"}, headers=ADMIN)
    ).status_code == 201
    over = await api.post("/api/topics", json={"name": "Fig", "query": "fig"}, headers=ADMIN)
    assert over.status_code == 409
    assert "MAX_TOPICS (3)" in over.json()["detail"]


async def test_writes_need_the_admin_token_and_are_off_without_one(
    api: httpx.AsyncClient, settings: Settings, session: AsyncSession
) -> None:
    body = {"name": "Apple", "query": "apple"}
    assert (await api.post("/api/topics", json=body)).status_code == 401
    wrong = await api.post("/api/topics", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert (await api.get("/api/topics")).status_code == 200, "reads need only what every read needs"
    async for off in client_for(
        settings.model_copy(update={"database_url": as_role(settings.database_url, API_ROLE)})
    ):
        refused = await off.post("/api/topics", json=body, headers=ADMIN)
        assert refused.status_code == 403
        assert "ADMIN_TOKEN" in refused.json()["detail"]
    del session


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "query": "apple"}, "name"),
        ({"name": " padded ", "query": "apple"}, "name"),
        ({"name": "x" * 101, "query": "apple"}, "name"),
        ({"name": "ok", "query": "a" * 501}, "query"),
        ({"name": "ok", "query": "apple", "languages": ["english"]}, "languages"),
        ({"name": "ok", "query": "apple", "colour": "red"}, "colour"),
    ],
)
async def test_a_malformed_topic_is_a_422_naming_the_field(
    api: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    answer = await api.post("/api/topics", json=body, headers=ADMIN)
    assert answer.status_code == 422
    assert field in where(answer)


async def test_handles_hashtags_and_domains_are_read_as_written(session: AsyncSession) -> None:
    """The configuration keeps a handle and a host whole, so a query written as a user writes them matches
    the post that has them; a hashtag matches its word; a site matches whatever its subdomain."""
    post = (
        "Loving the #PhoneLaunch with @alice.bsky.social and @bob@mastodon.social, "
        "details at https://www.example.com/launch"
    )
    for query, matches in [
        ("#PhoneLaunch", True),
        ("@alice.bsky.social", True),
        ("@bob@mastodon.social", True),
        ("example.com", True),
        ("www.example.com", True),
        ("detail", True),  # stemmed: details
        ("@carol.bsky.social", False),
        ("other.com", False),
        ('"phone launch"', False),
    ]:
        found = await session.scalar(
            text(f"SELECT {TEXT_VECTOR}(:post) @@ websearch_to_tsquery(CAST(:c AS regconfig), :q)"),
            {"c": TEXT_SEARCH, "post": post, "q": query},
        )
        assert found is matches, query


async def store(settings: Settings, posts: list[StoredPost]) -> None:
    """The posts stored (and tagged) as a worker stores them, as its role."""
    workers = create_engine(as_role(settings.database_url, WORKER_ROLE))
    try:
        async with session_factory(workers)() as session:
            await write(session, posts)
    finally:
        await workers.dispose()


async def counted(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT coalesce(sum(posts), 0) FROM topic_rollup")) or 0)


async def test_a_change_replaces_the_tags_and_a_delete_takes_them_with_their_counts(
    api: httpx.AsyncClient, settings: Settings, engine: AsyncEngine
) -> None:
    """The backfill's progress shows in the API; a change of query deletes the old tags and counts at once
    and backfills the new ones; a deleted topic leaves neither."""
    workers = create_engine(as_role(settings.database_url, WORKER_ROLE))
    try:
        async with session_factory(workers)() as session:
            await write(session, rows("t", days=3))
        made = (
            await api.post("/api/topics", json={"name": "Launch", "query": "#PhoneLaunch"}, headers=ADMIN)
        ).json()
        assert (made["revision"], made["backfill"]) == (
            1,
            {"state": "running", "through": None, "progress": 0.0},
        )

        async def backfill() -> list[float]:
            progress = []
            async with workers.connect() as conn:
                while await backfill_step(conn) is not None:
                    progress.append(
                        (await api.get(f"/api/topics/{made['id']}")).json()["backfill"]["progress"]
                    )
            return progress

        progress = await backfill()
        assert progress == sorted(progress)
        assert progress[-1] == 1.0
        assert (await api.get(f"/api/topics/{made['id']}")).json()["backfill"] == {
            "state": "done",
            "through": None,
            "progress": 1.0,
        }
        await assert_exact(engine)
        assert await tags(engine) == {made["id"]: {f"t{day}-0" for day in range(3)}}

        renamed = (
            await api.patch(f"/api/topics/{made['id']}", json={"name": "Launches"}, headers=ADMIN)
        ).json()
        assert (renamed["revision"], renamed["backfill"]["state"]) == (1, "done")  # matches the same posts

        changed = (
            await api.patch(f"/api/topics/{made['id']}", json={"query": '"new phone"'}, headers=ADMIN)
        ).json()
        assert (changed["revision"], changed["backfill"]["state"]) == (2, "running")
        assert await tags(engine) == {}
        assert await counted(engine) == 0  # the old counts are gone with the old tags
        await backfill()
        assert await tags(engine) == {made["id"]: {f"t{day}-1" for day in range(3)}}
        await assert_exact(engine)

        assert (await api.delete(f"/api/topics/{made['id']}", headers=ADMIN)).status_code == 204
        assert await counted(engine) == 0
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM topic_rollup")) == 0, "no bucket left"
        assert await tags(engine) == {}
    finally:
        await workers.dispose()


async def test_every_view_narrows_to_a_topic(
    api: httpx.AsyncClient, settings: Settings, engine: AsyncEngine
) -> None:
    """The posts, the aggregate at each period, the emotions and the distribution of a topic count exactly
    its tagged posts, from its rollup and its tags; an unknown topic is a 404 naming ``topic``."""
    made = (await api.post("/api/topics", json={"name": "Cats", "query": "cats -dogs"}, headers=ADMIN)).json()
    await store(settings, rows("v", days=3))  # tagged as stored
    tagged = {f"v{day}-{i}" for day in range(3) for i in (6, 8, 9)}  # every source and language
    assert await tags(engine) == {made["id"]: tagged}
    span = {
        "start_date": (NOW - timedelta(days=3)).isoformat(),
        "end_date": (NOW + timedelta(days=1)).isoformat(),
    }
    page = (await api.get("/api/posts", params={"topic": made["id"], "limit": 100, **span})).json()
    assert {p["post_id"] for p in page["posts"]} == tagged
    assert (page["total"], page["filters"]["topic"]) == (9, [made["id"]])
    one = (await api.get("/api/posts", params={"topic": made["id"], "source": "rss", **span})).json()
    assert {p["post_id"] for p in one["posts"]} == {f"v{day}-{i}" for day in range(3) for i in (6, 9)}
    for period in ("hour", "day"):
        found = (
            await api.get("/api/sentiment/aggregate", params={"topic": made["id"], "period": period, **span})
        ).json()
        # posts 6, 8, 9 of each day: sentiments 6 % 3, 8 % 3, 9 % 3 = negative, positive, negative
        assert found["summary"] == {
            "total_posts": 9,
            "positive_total": 3,
            "negative_total": 6,
            "neutral_total": 0,
        }
    hour = {
        "start_date": (
            NOW - timedelta(days=1, hours=-9, minutes=-7)
        ).isoformat(),  # minute 7 on: a partial one
        "end_date": (NOW - timedelta(days=1, hours=-10)).isoformat(),
        "period": "minute",
    }
    found = (await api.get("/api/sentiment/aggregate", params={"topic": made["id"], **hour})).json()
    assert found["summary"] == {
        "total_posts": 2,
        "positive_total": 1,
        "negative_total": 1,
        "neutral_total": 0,
    }
    moods = (
        await api.get("/api/sentiment/emotions", params={"topic": made["id"], "period": "day", **span})
    ).json()
    assert sum(d["total"] for d in moods["data"]) == 9
    overall = (await api.get("/api/sentiment/aggregate", params={"period": "day", **span})).json()
    assert overall["summary"]["total_posts"] == 3 * len(TEXTS)

    for path in (
        "/api/posts",
        "/api/sentiment/aggregate",
        "/api/sentiment/distribution",
        "/api/sentiment/emotions",
    ):
        missing = await api.get(path, params={"topic": made["id"] + 1})
        assert missing.status_code == 404, path
        assert missing.json()["detail"][0]["loc"] == ["query", "topic"]
    assert (await api.get("/api/posts", params={"topic": 0})).status_code == 422


async def test_several_topics_are_compared(api: httpx.AsyncClient, settings: Settings) -> None:
    """``topic=`` repeated: the posts tagged with any of them (a post tagged with both once), paged to the end
    without a gap, and each topic's aggregate, distribution and emotions in ``by_topic``, their matches summed
    above as share of voice sums them."""
    cats = (await api.post("/api/topics", json={"name": "Cats", "query": "cats"}, headers=ADMIN)).json()["id"]
    other = (
        await api.post("/api/topics", json={"name": "Dogs", "query": "dogs or nothing"}, headers=ADMIN)
    ).json()["id"]
    await store(settings, rows("c", days=3))
    union = {f"c{day}-{i}" for day in range(3) for i in (6, 7, 8, 9, 10)}  # text 7 has cats and dogs
    span = {
        "start_date": (NOW - timedelta(days=3)).isoformat(),
        "end_date": (NOW + timedelta(days=1)).isoformat(),
    }
    both = {"topic": [cats, other], **span}
    page = (await api.get("/api/posts", params={**both, "limit": 100})).json()
    assert sorted(p["post_id"] for p in page["posts"]) == sorted(union)
    assert (page["total"], page["total_is_lower_bound"], page["filters"]["topic"]) == (
        15,
        False,
        [cats, other],
    )
    walked: list[str] = []
    cursor: dict[str, str] = {}
    while chunk := (await api.get("/api/posts", params={**both, "limit": 4, **cursor})).json()["posts"]:
        walked += [p["post_id"] for p in chunk]
        cursor = {"before": chunk[-1]["post_id"]}
    assert walked == [p["post_id"] for p in page["posts"]]

    found = (await api.get("/api/sentiment/aggregate", params={**both, "period": "day"})).json()
    assert [(t["topic"], t["summary"]["total_posts"]) for t in found["by_topic"]] == [(cats, 12), (other, 6)]
    # cats: texts 6, 7, 8, 9 (negative, neutral, positive, negative); dogs or nothing: 7 and 10 (neutral)
    assert found["summary"] == {
        "total_posts": 18,
        "positive_total": 3,
        "negative_total": 6,
        "neutral_total": 9,
    }
    alone = (
        await api.get("/api/sentiment/aggregate", params={"topic": other, "period": "day", **span})
    ).json()
    assert (alone["by_topic"], alone["data"]) == ([], found["by_topic"][1]["data"])

    for path, key in (("/api/sentiment/distribution", "total"), ("/api/sentiment/emotions", "data")):
        compared = (await api.get(path, params={"topic": [cats, other]})).json()
        each = [(await api.get(path, params={"topic": t})).json() for t in (cats, other)]
        assert [t[key] for t in compared["by_topic"]] == [e[key] for e in each], path
    spread = (await api.get("/api/sentiment/distribution", params={"topic": [cats, other]})).json()
    assert spread["total"] == sum(t["total"] for t in spread["by_topic"])
    assert spread["topic"] == [cats, other]

    once = (await api.get("/api/sentiment/aggregate", params={"topic": [cats, cats], **span})).json()
    assert (once["by_topic"], once["summary"]["total_posts"]) == ([], 12)  # a topic named twice is one
    missing = await api.get("/api/posts", params={"topic": [cats, other + 1]})
    assert (missing.status_code, where(missing)) == (404, ["query", "topic"])
    too_many = await api.get("/api/sentiment/aggregate", params={"topic": list(range(1, 12))})
    assert (too_many.status_code, where(too_many)) == (422, ["query", "topic"])


async def test_share_of_voice_compares_the_topics_with_the_window_before(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    cats = (await api.post("/api/topics", json={"name": "Cats", "query": "cats"}, headers=ADMIN)).json()
    launch = (
        await api.post("/api/topics", json={"name": "Launch", "query": "#PhoneLaunch"}, headers=ADMIN)
    ).json()
    quiet = (await api.post("/api/topics", json={"name": "Quiet", "query": "zeppelin"}, headers=ADMIN)).json()
    now = datetime.now(UTC)
    # In the last 24 hours: 3 cat posts (texts 6, 7, 8; the i-th text has the i % 3-th sentiment) and 1 launch
    # post; in the 24 hours before: 1 cat post (text 9) and 2 launch posts.
    texts = [(6, 1), (7, 2), (8, 3), (0, 4), (9, 30), (0, 31), (0, 32)]
    posts = [
        replace(rows("s", days=1)[i], post_id=f"s{n}", created_at=now - timedelta(hours=hours))
        for n, (i, hours) in enumerate(texts)
    ]
    await store(settings, posts)
    answer = await api.get("/api/topics/share", params={"hours": 24})
    assert answer.status_code == 200, answer.text
    share = answer.json()
    assert (share["hours"], share["total"]) == (24, 4)
    assert [t["id"] for t in share["topics"]] == [cats["id"], launch["id"], quiet["id"]]
    first, second, third = share["topics"]
    sentiments = [s.value for s in Sentiment]
    want = {label: 0 for label in sentiments}
    for i in (6, 7, 8):
        want[sentiments[i % 3]] += 1
    assert first == {
        "id": cats["id"],
        "name": "Cats",
        "posts": 3,
        "share": 75.0,
        "sentiment": want,
        "net_sentiment": round((want["positive"] - want["negative"]) / 3, 4),
        "previous_posts": 1,
        "posts_change": 2,
        "posts_change_percent": 200.0,
        "net_sentiment_change": round(
            (want["positive"] - want["negative"]) / 3
            - ((sentiments[9 % 3] == "positive") - (sentiments[9 % 3] == "negative")),
            4,
        ),
    }
    assert (second["posts"], second["share"], second["previous_posts"], second["posts_change_percent"]) == (
        1,
        25.0,
        2,
        -50.0,
    )
    assert (third["posts"], third["share"], third["net_sentiment"], third["posts_change_percent"]) == (
        0,
        0.0,
        None,
        None,
    )
    assert (await api.get("/api/topics/share", params={"hours": 0})).status_code == 422


async def test_search_finds_highlights_pages_and_caps_its_total(
    api: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    posts = [
        *rows("q", days=2),
        replace(rows("x", days=1)[0], post_id="x-html", content="<script>cats</script> & Cats"),
    ]
    await store(settings, posts)
    span = {
        "start_date": (NOW - timedelta(days=3)).isoformat(),
        "end_date": (NOW + timedelta(days=1)).isoformat(),
    }
    found = (await api.get("/api/posts", params={"q": "cats -dogs", "limit": 100, **span})).json()
    want = {f"q{day}-{i}" for day in range(2) for i in (6, 8, 9)} | {"x-html"}
    assert {p["post_id"] for p in found["posts"]} == want
    assert (found["total"], found["total_is_lower_bound"], found["filters"]["q"]) == (7, False, "cats -dogs")
    times = [p["created_at"] for p in found["posts"]]
    assert times == sorted(times, reverse=True), "newest first"
    headlines = {p["post_id"]: p["headline"] for p in found["posts"]}
    assert headlines["q0-6"] == "<b>cats</b> are great"
    # escaped; PostgreSQL's parser reads <script> as a tag, and the word inside it as no match
    assert headlines["x-html"] == "&lt;script&gt;cats&lt;/script&gt; &amp; <b>Cats</b>"
    assert all(p["headline"] is None for p in (await api.get("/api/posts", params=span)).json()["posts"])

    first = (await api.get("/api/posts", params={"q": "cats -dogs", "limit": 4, **span})).json()
    rest = (
        await api.get(
            "/api/posts",
            params={"q": "cats -dogs", "limit": 4, "before": first["posts"][-1]["post_id"], **span},
        )
    ).json()
    assert [p["post_id"] for p in first["posts"] + rest["posts"]] == [p["post_id"] for p in found["posts"]]
    phrase = (await api.get("/api/posts", params={"q": '"new phone"', **span})).json()
    assert {p["post_id"] for p in phrase["posts"]} == {"q0-1", "q1-1"}
    negative = (await api.get("/api/posts", params={"q": "cats", "sentiment": "negative", **span})).json()
    assert {p["post_id"] for p in negative["posts"]} == {
        f"q{day}-{i}" for day in range(2) for i in (6, 9)
    } | {
        "x-html"  # text 0's sentiment
    }
    assert negative["total"] == 5

    monkeypatch.setattr(feed, "SEARCH_TOTAL_CAP", 3)
    capped = (await api.get("/api/posts", params={"q": "cats", "limit": 2, "offset": 0, **span})).json()
    assert (capped["total"], capped["total_is_lower_bound"]) == (3, True)

    for q in ("the and of", "-cats", "x" * 501):
        refused = await api.get("/api/posts", params={"q": q})
        assert refused.status_code == 422, q
        assert refused.json()["detail"][0]["loc"] == ["query", "q"]


async def test_a_search_reads_the_newest_days_first_then_every_day(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    """A page found in the newest day or week is the page; one that is not is read from every day."""
    now = datetime.now(UTC)
    ages = [timedelta(hours=2), timedelta(days=3), timedelta(days=20), timedelta(days=25)]
    cats = rows("w", days=1)[6]  # "cats are great"
    await store(
        settings, [replace(cats, post_id=f"w{n}", created_at=now - age) for n, age in enumerate(ages)]
    )

    async def found(**params: Any) -> list[str]:
        answer = await api.get("/api/posts", params={"q": "cats", **params})
        assert answer.status_code == 200, answer.text
        return [p["post_id"] for p in answer.json()["posts"]]

    for limit in range(1, 6):
        assert await found(limit=limit) == [f"w{n}" for n in range(min(limit, 4))], limit
    assert await found(limit=1, offset=2) == ["w2"]
    assert await found(limit=2, before="w1") == ["w2", "w3"]
    assert await found(start_date=(now - timedelta(days=4)).isoformat()) == ["w0", "w1"]
    assert await found(limit=1, sentiment=cats.sentiment_label.value, offset=3) == ["w3"]
