"""The three tables of the data model (docs/architecture.md), with the original specification's column
names, the post_id registry, the rollup that the aggregations read, and the dead letters."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    Computed,
    DateTime,
    Enum,
    Float,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, TSQUERY, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from services.common.labels import Emotion, Sentiment
from services.common.messages import AUTHOR_MAX_CHARS, LANG_MAX_CHARS, POST_ID_MAX_CHARS, SOURCE_MAX_CHARS

# The text-search configuration of topics and search, and the SQL function that makes a post's text its
# tsvector with it (migration 0007, docs/topics.md).
TEXT_SEARCH = "listening"
TEXT_VECTOR = "listening_vector"
# The advisory lock of the topic writes: the API takes it exclusive, whatever tags takes it shared
# (services/worker/tagging.py says why).
TOPIC_LOCK = 0x70_1C5
TOPIC_NAME_MAX_CHARS = 100
TOPIC_QUERY_MAX_CHARS = 500

# Deterministic constraint names, so migrations can name what they drop.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _label(enum: type[Sentiment] | type[Emotion], name: str) -> Enum:
    # VARCHAR with a CHECK, not a PostgreSQL ENUM: a new label is a constraint change, not a type rewrite.
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


UtcTime = DateTime(timezone=True)


# Posts and analyses are partitioned by day of the post's own ``created_at`` (services/common/db/partitions.py,
# docs/storage.md): what every read filters on, and what retention drops by. A key of a partitioned table must
# hold the partition key, so a post is known by (post_id, created_at) wherever it is kept, and ``PostId``
# keeps each post_id once.
PARTITIONED_BY_DAY = {"postgresql_partition_by": "RANGE (created_at)"}


class PostId(Base):
    """Every post_id stored, once, with its post's ``created_at``: inserted first in the transaction that
    stores the post, so a post_id redelivered (with any ``created_at``) is found here and stored once. A small
    table, not partitioned; maintenance forgets the ids of the days it drops."""

    __tablename__ = "post_ids"

    post_id: Mapped[str] = mapped_column(String(POST_ID_MAX_CHARS), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcTime, index=True)


def stored_span() -> Any:
    """The oldest and newest stored posts' ``created_at`` (``oldest``, ``newest``): two look-ups in the
    registry's index, where a scan of the posts would read every partition."""
    return select(func.min(PostId.created_at).label("oldest"), func.max(PostId.created_at).label("newest"))


class SocialMediaPost(Base):
    __tablename__ = "social_media_posts"
    # The search index, and a topic's backfill's (migrations 0008, 0012): each post's text as topics read it.
    __table_args__ = (
        Index("ix_social_media_posts_search", "search_vector", postgresql_using="gin"),
        PARTITIONED_BY_DAY,
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    post_id: Mapped[str] = mapped_column(String(POST_ID_MAX_CHARS), primary_key=True)
    source: Mapped[str] = mapped_column(String(SOURCE_MAX_CHARS), index=True)
    content: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(AUTHOR_MAX_CHARS))
    created_at: Mapped[datetime] = mapped_column(UtcTime, primary_key=True, index=True)
    ingested_at: Mapped[datetime] = mapped_column(UtcTime, server_default=func.now())
    # Its language (BCP 47 primary subtag, or "und") and its link at the source; NULL for posts stored
    # before either was recorded.
    lang: Mapped[str | None] = mapped_column(String(LANG_MAX_CHARS))
    url: Mapped[str | None] = mapped_column(Text)
    # Its text as the topics and the search read it (TEXT_VECTOR), made by PostgreSQL as the post is stored;
    # never loaded unless asked for.
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR, Computed(f"{TEXT_VECTOR}(content)", persisted=True), deferred=True
    )


class SentimentAnalysis(Base):
    """One analysis per post, in the partition of its post's day. It refers to its post by (post_id,
    created_at) without a declared foreign key: dropping a day's partition of a table that a foreign key
    references takes locks that deadlock with the writers (measured; docs/storage.md). The worker writes
    both in one transaction, and deleting a post deletes its analysis (migration 0005's trigger)."""

    __tablename__ = "sentiment_analysis"
    __table_args__ = (
        CheckConstraint("confidence_score >= 0 AND confidence_score <= 1", name="confidence_range"),
        PARTITIONED_BY_DAY,
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    post_id: Mapped[str] = mapped_column(String(POST_ID_MAX_CHARS), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcTime, primary_key=True)
    model_name: Mapped[str] = mapped_column(String(128))
    sentiment_label: Mapped[Sentiment] = mapped_column(_label(Sentiment, "sentiment_label"), index=True)
    confidence_score: Mapped[float] = mapped_column(Float)
    emotion: Mapped[Emotion] = mapped_column(_label(Emotion, "emotion"))
    analyzed_at: Mapped[datetime] = mapped_column(UtcTime, server_default=func.now(), index=True)


def its_post() -> ColumnElement[bool]:
    """An analysis's join to its post, on both keys: each look-up reads one day's partition."""
    return (SentimentAnalysis.post_id == SocialMediaPost.post_id) & (
        SentimentAnalysis.created_at == SocialMediaPost.created_at
    )


class PostTombstone(Base):
    """A post its source deleted: the worker deleted it, its analysis and its counts, and never stores that
    post_id again while the tombstone is kept (TOMBSTONE_DAYS, then the maintenance forgets it).

    Keyed by post_id alone and not partitioned, like ``post_ids``: a delete can arrive before its post, and
    carries no time of the post to partition by; the table holds one small row per delete of the days kept.
    """

    __tablename__ = "post_tombstones"

    post_id: Mapped[str] = mapped_column(String(POST_ID_MAX_CHARS), primary_key=True)
    source: Mapped[str] = mapped_column(String(SOURCE_MAX_CHARS))
    deleted_at: Mapped[datetime] = mapped_column(UtcTime, index=True)  # as its source said, else on arrival


class SentimentAlert(Base):
    __tablename__ = "sentiment_alerts"
    __table_args__ = (
        CheckConstraint("window_start <= window_end", name="window_order"),
        CheckConstraint("post_count >= 0", name="post_count"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    alert_type: Mapped[str] = mapped_column(String(64))
    threshold_value: Mapped[float] = mapped_column(Float)
    actual_value: Mapped[float] = mapped_column(Float)
    window_start: Mapped[datetime] = mapped_column(UtcTime)
    window_end: Mapped[datetime] = mapped_column(UtcTime)
    post_count: Mapped[int] = mapped_column(Integer)
    triggered_at: Mapped[datetime] = mapped_column(UtcTime, server_default=func.now(), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")


class SentimentRollup(Base):
    """Analysed posts counted by ``grain`` ('minute' or 'hour') bucket of the post's ``created_at`` (UTC),
    source, language, sentiment and emotion, with the sum of their confidences.

    Kept by PostgreSQL itself, in the transaction that writes the posts (triggers of migrations 0002 and
    0005): an analysis inserted adds to its buckets, a post deleted takes its analysis out, a TRUNCATE empties
    it. So whole buckets can be read here instead of counting the posts, and the answer stays exact. A day's
    partitions dropped by retention fire nothing: the buckets outlive the posts, up to ROLLUP_RETENTION_DAYS.
    """

    __tablename__ = "sentiment_rollup"
    __table_args__ = (CheckConstraint("grain IN ('minute', 'hour')", name="grain"),)

    grain: Mapped[str] = mapped_column(String(8), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(UtcTime, primary_key=True)
    source: Mapped[str] = mapped_column(String(SOURCE_MAX_CHARS), primary_key=True)
    # The posts' language; '' for posts stored without one (a key cannot be NULL).
    lang: Mapped[str] = mapped_column(String(LANG_MAX_CHARS), primary_key=True, server_default="")
    sentiment_label: Mapped[Sentiment] = mapped_column(_label(Sentiment, "sentiment_label"), primary_key=True)
    emotion: Mapped[Emotion] = mapped_column(_label(Emotion, "emotion"), primary_key=True)
    posts: Mapped[int] = mapped_column(BigInteger)
    confidence_sum: Mapped[float] = mapped_column(Float)


class DeadLetter(Base):
    """A stream entry set aside, with why: kept until someone redrives or deletes it (docs/pipeline.md).

    In PostgreSQL, not Redis: it survives a Redis loss, cannot fill Redis's memory, and nothing trims it.
    """

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # Its id on the stream. Unique: a dead letter written again (a settle retried after a lost reply, a
    # redelivery) is kept once.
    entry_id: Mapped[str] = mapped_column(String(64), unique=True)
    # The entry's field names and values, alternating, byte for byte as read (not UTF-8 included).
    fields: Mapped[list[bytes]] = mapped_column(ARRAY(LargeBinary))
    reason: Mapped[str] = mapped_column(Text)
    consumer: Mapped[str] = mapped_column(String(128))
    dead_lettered_at: Mapped[datetime] = mapped_column(UtcTime, server_default=func.now(), index=True)


class Topic(Base):
    """A saved query people watch (docs/topics.md): its name, its query in ``websearch_to_tsquery`` syntax
    read with the ``listening`` configuration, and the sources and languages it is narrowed to (NULL: all)."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(TOPIC_NAME_MAX_CHARS), unique=True)
    query: Mapped[str] = mapped_column(String(TOPIC_QUERY_MAX_CHARS))
    sources: Mapped[list[str] | None] = mapped_column(ARRAY(String(SOURCE_MAX_CHARS)))
    languages: Mapped[list[str] | None] = mapped_column(ARRAY(String(LANG_MAX_CHARS)))
    created_at: Mapped[datetime] = mapped_column(UtcTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UtcTime, server_default=func.now())
    # The query as PostgreSQL reads it, made by PostgreSQL.
    match: Mapped[str] = mapped_column(
        TSQUERY, Computed(f"websearch_to_tsquery('{TEXT_SEARCH}'::regconfig, query)", persisted=True)
    )
    # Raised by every change of what the topic matches; the tags of earlier revisions are gone.
    revision: Mapped[int] = mapped_column(Integer, server_default="1")
    # The backfill over the stored posts (services/worker/tagging.py): the revision it finished (behind
    # ``revision``: one is due), and its cursor, the posts created before it still to read (NULL: not started).
    backfilled: Mapped[int] = mapped_column(Integer, server_default="0")
    backfill_before: Mapped[datetime | None] = mapped_column(UtcTime)


class PostTopic(Base):
    """A post's topic, one row per topic it matches, in its post's day, with what the views count by. Written
    in the transaction that stores the post, or by the topic's backfill; deleted with its post or its topic."""

    __tablename__ = "post_topics"
    __table_args__ = (Index("ix_post_topics_topic_id", "topic_id", "created_at"), PARTITIONED_BY_DAY)

    post_id: Mapped[str] = mapped_column(String(POST_ID_MAX_CHARS), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcTime, primary_key=True)
    topic_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(SOURCE_MAX_CHARS))
    lang: Mapped[str] = mapped_column(String(LANG_MAX_CHARS))  # '' for a post without one
    sentiment_label: Mapped[str] = mapped_column(String(16))
    emotion: Mapped[str] = mapped_column(String(16))
    confidence_score: Mapped[float] = mapped_column(Float)


TERM_MAX_CHARS = 100


class PostTerm(Base):
    """A post's hashtag (``#phonelaunch``) or mention (``@alice.bsky.social``), lowercased, as migration
    0010's ``post_terms(content)`` finds them; written with its post, deleted with it."""

    __tablename__ = "post_terms"
    __table_args__ = (PARTITIONED_BY_DAY,)

    post_id: Mapped[str] = mapped_column(String(POST_ID_MAX_CHARS), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcTime, primary_key=True)
    term: Mapped[str] = mapped_column(String(TERM_MAX_CHARS), primary_key=True)


class TopicRollup(Base):
    """``sentiment_rollup`` per topic: the tags counted by bucket, kept by migration 0008's triggers."""

    __tablename__ = "topic_rollup"
    # The key serves one topic's reads; the index, every topic's at once (share of voice).
    __table_args__ = (
        CheckConstraint("grain IN ('minute', 'hour')", name="grain"),
        Index("ix_topic_rollup_grain", "grain", "bucket"),
    )

    topic_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grain: Mapped[str] = mapped_column(String(8), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(UtcTime, primary_key=True)
    source: Mapped[str] = mapped_column(String(SOURCE_MAX_CHARS), primary_key=True)
    lang: Mapped[str] = mapped_column(String(LANG_MAX_CHARS), primary_key=True)
    sentiment_label: Mapped[str] = mapped_column(String(16), primary_key=True)
    emotion: Mapped[str] = mapped_column(String(16), primary_key=True)
    posts: Mapped[int] = mapped_column(BigInteger)
    confidence_sum: Mapped[float] = mapped_column(Float)
