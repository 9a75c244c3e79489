"""Who and what a topic is, on the real PostgreSQL: each post's hashtags and mentions found as people write
them and stored with the post (as the worker's role), deleted with it, and a topic's top authors and
hashtags over a window with their sentiment (as the API's role)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.common.db.engine import create_engine, session_factory
from services.common.db.roles import WORKER_ROLE
from services.common.labels import Sentiment
from services.common.messages import DeleteMessage
from services.common.settings import Settings
from services.worker.store import delete
from services.worker.tagging import backfill_step
from tests.backend.test_topics import ADMIN, api, store  # noqa: F401 - api is a fixture
from tests.support import as_role
from tests.worker.test_tagging import rows

TERMS = [
    ("Loving the #PhoneLaunch, and #phonelaunch again", ["#phonelaunch"]),
    ("thanks @alice.bsky.social and @Bob@Mastodon.Social.", ["@alice.bsky.social", "@bob@mastodon.social"]),
    ("hi @carol, (#Deal) #日本 #Café_2", ["#café_2", "#deal", "#日本", "@carol"]),
    ("mail a@b.com, x#y, #1 and #_ are no terms; #a#b is one", ["#a"]),
    ("@dan. and @e-f-.g", ["@dan", "@e-f"]),
    ("#" + "x" * 99 + " #" + "y" * 100, ["#" + "x" * 99]),  # at most 100 characters
    ("nothing here", []),
]


async def test_hashtags_and_mentions_are_found_as_people_write_them(session: AsyncSession) -> None:
    for content, want in TERMS:
        found = await session.execute(text("SELECT t FROM post_terms(:c) AS t ORDER BY t"), {"c": content})
        assert list(found.scalars()) == want, content


async def terms(engine: AsyncEngine) -> dict[str, list[str]]:
    async with engine.connect() as conn:
        found = await conn.execute(text("SELECT post_id, term FROM post_terms ORDER BY post_id, term"))
        out: dict[str, list[str]] = {}
        for row in found.mappings():
            out.setdefault(row["post_id"], []).append(row["term"])
    return out


async def test_a_post_is_stored_with_its_terms_and_deleted_with_them(
    settings: Settings, session: AsyncSession, engine: AsyncEngine
) -> None:
    del session  # empties the tables after the test
    posts = [replace(p, content=content) for p, (content, _) in zip(rows("t", days=1), TERMS, strict=False)]
    await store(settings, posts)
    await store(settings, posts)  # redelivered: stored once, its terms too
    want = {p.post_id: w for p, (_, w) in zip(posts, TERMS, strict=False) if w}
    assert await terms(engine) == want
    workers = create_engine(as_role(settings.database_url, WORKER_ROLE))
    try:
        async with session_factory(workers)() as worker:
            gone = DeleteMessage(
                post_id=posts[0].post_id, source=posts[0].source, deleted_at=datetime.now(UTC)
            )
            assert await delete(worker, [gone]) == [gone]
    finally:
        await workers.dispose()
    assert await terms(engine) == {k: v for k, v in want.items() if k != posts[0].post_id}


async def test_a_topics_top_authors_and_hashtags_count_its_posts_in_the_window(
    api: httpx.AsyncClient,  # noqa: F811 - the fixture
    settings: Settings,
) -> None:
    topic = (await api.post("/api/topics", json={"name": "Launch", "query": "phone"}, headers=ADMIN)).json()
    other = (await api.post("/api/topics", json={"name": "Other", "query": "kettle"}, headers=ADMIN)).json()
    now = datetime.now(UTC)
    sentiments = list(Sentiment)
    # (author, text, hours ago, sentiment): the last is outside a 24-hour window, the kettle in no topic's.
    made = [
        ("ann", "my phone #PhoneLaunch #deal", 1, 0),
        ("ann", "phone again #phonelaunch", 2, 2),
        ("bo", "a phone #deal", 3, 2),
        ("cy", "phone #PhoneLaunch", 4, 1),
        ("cy", "old phone #old", 30, 0),
        ("di", "a kettle #deal", 1, 0),
    ]
    base = rows("v", days=1)[0]
    await store(
        settings,
        [
            replace(
                base,
                post_id=f"v{n}",
                author=author,
                content=content,
                created_at=now - timedelta(hours=hours),
                sentiment_label=sentiments[s],
            )
            for n, (author, content, hours, s) in enumerate(made)
        ],
    )

    def split(*labels: int) -> dict[str, int]:
        counts = {s.value: 0 for s in Sentiment}
        for i in labels:
            counts[sentiments[i].value] += 1
        return counts

    def counted(**by: tuple[int, ...]) -> list[dict[str, object]]:
        return [
            {
                "posts": len(labels),
                "sentiment": split(*labels),
                "net_sentiment": round(
                    (split(*labels)["positive"] - split(*labels)["negative"]) / len(labels), 4
                ),
            }
            for labels in by.values()
        ]

    authors = await api.get(f"/api/topics/{topic['id']}/authors", params={"hours": 24})
    assert authors.status_code == 200, authors.text
    body = authors.json()
    assert (body["topic"], body["hours"]) == (topic["id"], 24)
    want = counted(ann=(0, 2), bo=(2,), cy=(1,))  # ties by name
    assert body["authors"] == [{"author": a} | w for a, w in zip(["ann", "bo", "cy"], want, strict=True)]
    wide = (await api.get(f"/api/topics/{topic['id']}/authors", params={"hours": 48})).json()["authors"]
    assert [(a["author"], a["posts"]) for a in wide] == [("ann", 2), ("cy", 2), ("bo", 1)]
    assert len((await api.get(f"/api/topics/{topic['id']}/authors?limit=1")).json()["authors"]) == 1

    hashtags = (await api.get(f"/api/topics/{topic['id']}/hashtags")).json()
    want = counted(phonelaunch=(0, 2, 1), deal=(0, 2))
    assert hashtags["hashtags"] == [
        {"hashtag": h} | w for h, w in zip(["#phonelaunch", "#deal"], want, strict=True)
    ]
    assert [
        h["hashtag"] for h in (await api.get(f"/api/topics/{other['id']}/hashtags")).json()["hashtags"]
    ] == ["#deal"]

    assert (await api.get("/api/topics/999/authors")).status_code == 404
    assert (await api.get("/api/topics/999/hashtags")).status_code == 404
    for bad in ({"hours": 0}, {"hours": 169}, {"limit": 0}, {"limit": 101}):
        answer = await api.get(f"/api/topics/{topic['id']}/hashtags", params=bad)
        assert answer.status_code == 422, bad
        assert answer.json()["detail"][0]["loc"] == ["query", next(iter(bad))]


@pytest.mark.parametrize("path", ["authors", "hashtags"])
async def test_a_deleted_topic_is_a_404_at_once(
    api: httpx.AsyncClient,  # noqa: F811 - the fixture
    path: str,
) -> None:
    topic = (await api.post("/api/topics", json={"name": "Gone", "query": "phone"}, headers=ADMIN)).json()
    assert (await api.get(f"/api/topics/{topic['id']}/{path}")).status_code == 200  # and cached
    assert (await api.delete(f"/api/topics/{topic['id']}", headers=ADMIN)).status_code == 204
    assert (await api.get(f"/api/topics/{topic['id']}/{path}")).status_code == 404


async def test_a_topics_answers_are_not_kept_while_its_backfill_runs(
    api: httpx.AsyncClient,  # noqa: F811 - the fixture
    settings: Settings,
    engine: AsyncEngine,
) -> None:
    """Asked before its backfill ends, a topic's views answer what is tagged so far, and keep none of it: once
    it ends, the next answer holds the whole history, not one kept from before (CACHE_TTL_S is 5 s here)."""
    assert settings.cache_ttl_s > 0
    assert settings.feed_cache_ttl_s > 0
    await store(
        settings, [replace(rows("b", days=1)[0], content="my phone #deal", created_at=datetime.now(UTC))]
    )
    topic = (await api.post("/api/topics", json={"name": "Phones", "query": "phone"}, headers=ADMIN)).json()
    asked = [
        (f"/api/topics/{topic['id']}/hashtags", {}),
        ("/api/sentiment/distribution", {"topic": topic["id"]}),
        ("/api/posts", {"topic": topic["id"]}),
    ]
    before = [(await api.get(path, params=params)).json() for path, params in asked]
    assert (before[0]["hashtags"], before[1]["total"], before[2]["total"]) == ([], 0, 0)
    async with engine.connect() as conn:
        while await backfill_step(conn) is not None:
            pass
    after = [(await api.get(path, params=params)).json() for path, params in asked]
    assert [h["hashtag"] for h in after[0]["hashtags"]] == ["#deal"]
    assert (after[1]["total"], after[2]["total"]) == (1, 1)
