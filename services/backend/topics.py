"""``/api/topics``: the saved queries people watch (docs/topics.md). Reading them needs what every read
needs (API_KEY); writing them needs ADMIN_TOKEN as a bearer token, and is off without one.

A query is PostgreSQL's ``websearch_to_tsquery`` syntax read with the ``listening`` configuration, and is
refused (422 naming ``query``) when it has no word to match (empty, or only stop words), no word a post
must contain (``-apple`` alone matches almost every post), or more than MAX_TERMS terms. Names are unique
whatever their case (409), and there are at most MAX_TOPICS topics (409). Every write takes one advisory
lock, so those checks hold across API replicas.

A topic made, or changed in what it matches (query, sources, languages), is tagged on the posts stored before
by the workers' backfill (services/worker/tagging.py), shown as ``backfill``; a change deletes the earlier
tags and counts first, and a deleted topic takes its tags and counts with it.
"""

import asyncio
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from pydantic import Field
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert, Update

from services.backend.access import admin_token, api_key
from services.backend.aggregation import SENTIMENTS, TICK, percentages
from services.backend.cache import not_kept
from services.backend.deps import Backend, BackendDep
from services.backend.errors import InvalidParameter
from services.backend.schemas import (
    Backfill,
    NewTopic,
    SentimentTotals,
    ShareOfVoice,
    TopicFields,
    TopicOut,
    Topics,
    TopicShare,
)
from services.common.db.models import TEXT_SEARCH, TOPIC_LOCK, PostTopic, Topic, TopicRollup, stored_span
from services.common.messages import primary_subtag
from services.common.timestamps import utcnow

MAX_TERMS = 30

router = APIRouter(dependencies=[Depends(api_key)])
TopicId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the topic's id")]

# What a query means to the configuration: its index-usable part (querytree: '' when it has no lexeme, 'T'
# when no lexeme is required) and how many of its words are terms (not stop words, not operators).
_CHECK = text(
    "SELECT querytree(q)::text AS tree,"
    " (SELECT count(*) FROM ts_debug(CAST(:config AS regconfig), :query) WHERE cardinality(lexemes) > 0) AS terms"
    " FROM websearch_to_tsquery(CAST(:config AS regconfig), :query) AS q"
)


async def checked_query(
    conn: AsyncConnection, query: str, field: str = "query", where: Literal["body", "query"] = "body"
) -> str:
    """The query, refused (422 naming ``field`` in ``where``) when it matches nothing or everything."""
    query = query.strip()
    found = (await conn.execute(_CHECK, {"config": TEXT_SEARCH, "query": query})).one()
    if found.tree == "":
        raise InvalidParameter(field, "has no word to match: it is empty or only stop words", where)
    if found.tree == "T":
        raise InvalidParameter(
            field, "has no word a post must contain (-word alone matches almost every post): add one", where
        )
    if found.terms > MAX_TERMS:
        raise InvalidParameter(field, f"has {found.terms} terms: at most {MAX_TERMS}", where)
    return query


async def topic_done(backend: Backend, request: Request, topic: int) -> bool | None:
    """Whether the topic's backfill is done (None: there is no such topic); while it runs, the request's
    answers are not kept (services/backend/cache.py ``not_kept``)."""
    async with backend.reads.connect() as conn:
        done = await conn.scalar(select(Topic.backfilled >= Topic.revision).where(Topic.id == topic))
    if done is False:
        not_kept(request)
    return done


MAX_COMPARED = 10  # topics one view compares (``topic=`` repeated)
_ID = Annotated[int, Field(ge=1, le=2**31 - 1)]


async def known_topics(
    backend: BackendDep,
    request: Request,
    topic: Annotated[
        list[_ID] | None,
        Query(
            max_length=MAX_COMPARED,
            description="only the posts tagged with this topic (its id); repeated (at most "
            f"{MAX_COMPARED}), the posts tagged with any of them, and each topic's own answer in by_topic",
        ),
    ] = None,
) -> tuple[int, ...]:
    """The topics a view is narrowed to, each once, in the order given; a 404 naming ``topic`` for an id of no
    topic. While one's backfill runs, the request's answers are not kept."""
    ids = tuple(dict.fromkeys(topic or ()))
    if not ids:
        return ()
    async with backend.reads.connect() as conn:
        rows = await conn.execute(
            select(Topic.id, Topic.backfilled >= Topic.revision).where(Topic.id.in_(ids))
        )
        done: dict[int, bool] = {i: bool(d) for i, d in rows}
    if missing := [i for i in ids if i not in done]:
        names = ", ".join(map(str, missing))
        raise HTTPException(
            404,
            [{"loc": ["query", "topic"], "msg": f"no topic {names}", "type": "not_found", "input": missing}],
        )
    if not all(done.values()):
        not_kept(request)
    return ids


TopicsFilter = Annotated[tuple[int, ...], Depends(known_topics)]
MAX_SUBSCRIBED = 50  # topics a live client may subscribe to


async def subscribed_topics(backend: Backend, given: list[str]) -> frozenset[int]:
    """The topics a WebSocket client names (``?topic=``): 422 for one that is no id or past MAX_SUBSCRIBED,
    404 for an id naming no topic."""
    if len(given) > MAX_SUBSCRIBED:
        raise HTTPException(422, f"topic: at most {MAX_SUBSCRIBED} topics")
    if not all(g.isascii() and g.isdigit() and 1 <= int(g) < 2**31 for g in given):
        raise HTTPException(422, "topic: each is a topic's id (an integer from 1)")
    ids = frozenset(int(g) for g in given)
    if ids:
        async with backend.reads.connect() as conn:
            found = set((await conn.execute(select(Topic.id).where(Topic.id.in_(ids)))).scalars())
        if missing := sorted(ids - found):
            raise HTTPException(404, f"topic: no topic {', '.join(map(str, missing))}")
    return ids


def _languages(languages: list[str] | None) -> list[str] | None:
    return sorted({primary_subtag(lang) or lang for lang in languages}) if languages else None


def _sources(sources: list[str] | None) -> list[str] | None:
    return sorted(set(sources)) if sources else None


async def _named(conn: AsyncConnection, name: str, other_than: int | None = None) -> None:
    """409 when another topic has this name, whatever its case."""
    same = select(Topic.id).where(func.lower(Topic.name) == name.lower())
    if other_than is not None:
        same = same.where(Topic.id != other_than)
    found = await conn.scalar(same)
    if found is not None:
        raise HTTPException(409, f"a topic named {name!r} exists already (id {found})")


# What a topic's answer is read from (not ``match``, PostgreSQL's own).
COLUMNS = [c for c in Topic.__table__.c if c.name != "match"]
Span = tuple[datetime | None, datetime | None]


async def _span(conn: AsyncConnection) -> Span:
    """The oldest and newest stored posts' times."""
    row = (await conn.execute(stored_span())).one()
    return row.oldest, row.newest


def _backfill(row: Any, span: Span) -> Backfill:
    if row.backfilled >= row.revision:
        return Backfill(state="done", progress=1.0)
    oldest, newest = span
    before = row.backfill_before
    if before is None or oldest is None or newest is None or newest <= oldest:
        return Backfill(state="running", through=before, progress=0.0)
    done = (newest - min(max(before, oldest), newest)) / (newest - oldest)
    return Backfill(state="running", through=before, progress=round(done, 4))


def _out(row: Any, span: Span) -> TopicOut:
    return TopicOut.model_validate(dict(row._mapping) | {"backfill": _backfill(row, span)})


async def _written(conn: AsyncConnection, write: Insert | Update) -> TopicOut:
    """The topic as ``write`` leaves it."""
    row = (await conn.execute(write.returning(*COLUMNS))).one()
    return _out(row, await _span(conn))


async def _forget_tags(conn: AsyncConnection, topic_id: int) -> None:
    """Delete the topic's counts, then its tags (whose trigger then finds no count to take them from)."""
    await conn.execute(delete(TopicRollup).where(TopicRollup.topic_id == topic_id))
    await conn.execute(delete(PostTopic).where(PostTopic.topic_id == topic_id))


@router.get("/api/topics", response_model=Topics)
async def list_topics(backend: BackendDep) -> Topics:
    """Every topic, by name."""
    async with backend.reads.connect() as conn:
        rows = (await conn.execute(select(*COLUMNS).order_by(func.lower(Topic.name)))).all()
        span = await _span(conn)
    return Topics(topics=[_out(r, span) for r in rows], max_topics=backend.settings.max_topics)


def _net(counts: dict[str, int]) -> float | None:
    posts = sum(counts.values())
    return round((counts["positive"] - counts["negative"]) / posts, 4) if posts else None


@router.get("/api/topics/share", response_model=ShareOfVoice)
async def share_of_voice(
    request: Request, backend: BackendDep, hours: Annotated[int, Query(ge=1, le=168)] = 24
) -> Response:
    """Share of voice over the last ``hours``: each topic's posts, their share of all topics' posts, their
    sentiment and net sentiment, and the change from the ``hours`` before. (Declared before
    ``/api/topics/{topic_id}``, so ``share`` is never read as an id.)"""

    async def build() -> ShareOfVoice:
        end = utcnow()
        start, before = end - timedelta(hours=hours), end - timedelta(hours=2 * hours)
        async with backend.reads.connect() as conn:
            names = {row.id: row.name for row in await conn.execute(select(Topic.id, Topic.name))}
        now, then = await asyncio.gather(
            backend.aggregator.by_topic(start, end), backend.aggregator.by_topic(before, start - TICK)
        )
        empty = dict.fromkeys(SENTIMENTS, 0)
        posts = {topic: sum(now.get(topic, empty).values()) for topic in names}
        shares = percentages({str(topic): n for topic, n in posts.items()})
        topics = []
        for topic, name in names.items():
            counts, earlier = now.get(topic, empty), then.get(topic, empty)
            was, net, net_was = sum(earlier.values()), _net(counts), _net(earlier)
            topics.append(
                TopicShare(
                    id=topic,
                    name=name,
                    posts=posts[topic],
                    share=shares[str(topic)],
                    sentiment=SentimentTotals(**counts),
                    net_sentiment=net,
                    previous_posts=was,
                    posts_change=posts[topic] - was,
                    posts_change_percent=round(100 * (posts[topic] - was) / was, 2) if was else None,
                    net_sentiment_change=round(net - net_was, 4)
                    if net is not None and net_was is not None
                    else None,
                )
            )
        topics.sort(key=lambda t: (-t.posts, t.name.lower()))
        return ShareOfVoice(
            hours=hours, start_date=start, end_date=end, total=sum(posts.values()), topics=topics
        )

    return await backend.cache.response(request, build)


@router.get(
    "/api/topics/{topic_id}", response_model=TopicOut, responses={404: {"description": "No such topic"}}
)
async def get_topic(topic_id: TopicId, backend: BackendDep) -> TopicOut:
    async with backend.reads.connect() as conn:
        row = (await conn.execute(select(*COLUMNS).where(Topic.id == topic_id))).first()
        span = await _span(conn)
    if row is None:
        raise HTTPException(404, f"no topic {topic_id}")
    return _out(row, span)


WRITES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong admin token"},
    403: {"description": "Topic writes are off (no ADMIN_TOKEN)"},
    409: {"description": "A topic of that name exists, or MAX_TOPICS do"},
    422: {"description": "The query matches nothing, or everything; the field is named"},
}


@router.post(
    "/api/topics",
    response_model=TopicOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(admin_token)],
    responses=WRITES,
)
async def create_topic(topic: NewTopic, backend: BackendDep) -> TopicOut:
    async with backend.engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": TOPIC_LOCK})
        query = await checked_query(conn, topic.query)
        count = await conn.scalar(select(func.count()).select_from(Topic))
        if (count or 0) >= backend.settings.max_topics:
            raise HTTPException(
                409, f"there are MAX_TOPICS ({backend.settings.max_topics}) topics: delete one first"
            )
        await _named(conn, topic.name)
        return await _written(
            conn,
            insert(Topic).values(
                name=topic.name,
                query=query,
                sources=_sources(topic.sources),
                languages=_languages(topic.languages),
            ),
        )


@router.patch(
    "/api/topics/{topic_id}",
    response_model=TopicOut,
    dependencies=[Depends(admin_token)],
    responses=WRITES | {404: {"description": "No such topic"}},
)
async def change_topic(topic_id: TopicId, change: TopicFields, backend: BackendDep) -> TopicOut:
    """Change what is sent; ``sources`` or ``languages`` sent as null (or []) widen the topic to all."""
    given = change.model_dump(exclude_unset=True)
    values: dict[str, Any] = {}
    async with backend.engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": TOPIC_LOCK})
        now = (await conn.execute(select(*COLUMNS).where(Topic.id == topic_id))).first()
        if now is None:
            raise HTTPException(404, f"no topic {topic_id}")
        if given.get("name") is not None:
            await _named(conn, given["name"], other_than=topic_id)
            values["name"] = given["name"]
        if given.get("query") is not None:
            values["query"] = await checked_query(conn, given["query"])
        if "sources" in given:
            values["sources"] = _sources(given["sources"])
        if "languages" in given:
            values["languages"] = _languages(given["languages"])
        if any(values[k] != getattr(now, k) for k in ("query", "sources", "languages") if k in values):
            # What it matches changed: the old tags go, and the backfill tags the stored posts again.
            await _forget_tags(conn, topic_id)
            values |= {"revision": Topic.revision + 1, "backfill_before": None}
        return await _written(
            conn, update(Topic).where(Topic.id == topic_id).values(**values, updated_at=func.now())
        )


@router.delete(
    "/api/topics/{topic_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[Depends(admin_token)],
    responses={401: WRITES[401], 403: WRITES[403], 404: {"description": "No such topic"}},
)
async def delete_topic(topic_id: TopicId, backend: BackendDep) -> Response:
    async with backend.engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": TOPIC_LOCK})
        gone = await conn.scalar(delete(Topic).where(Topic.id == topic_id).returning(Topic.id))
        if gone is not None:
            await _forget_tags(conn, topic_id)
    if gone is None:
        raise HTTPException(404, f"no topic {topic_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
