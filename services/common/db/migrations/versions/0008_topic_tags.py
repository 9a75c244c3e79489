"""topic tags: each post's topics, kept at write time, their rollup, and the posts' search index

- ``topics`` gains ``match`` (its query as a tsquery, computed by PostgreSQL from ``query``), ``revision``
  (raised by every change of what it matches) and the backfill's state: ``backfilled`` (the revision whose
  backfill finished; behind ``revision``, one is due) and ``backfill_before`` (its cursor: the posts created
  before it are yet to be read; NULL, not started).
- ``post_topics``: a post's topics, one row each, partitioned by day like the posts. A row carries what the
  views count by (source, language, sentiment, emotion, confidence), so its rollup needs no join.
- ``topic_rollup``: tagged posts counted by topic, grain, bucket, source, language, sentiment and emotion,
  kept by statement triggers on ``post_topics`` as ``sentiment_rollup`` is on the analyses. A deleted post's
  tags are deleted by the posts' delete trigger, before its analysis: its topics' counts go with it.
- ``ix_social_media_posts_search``: a GIN index on each post's ``listening_vector``, which serves search and
  a topic's backfill. Built on every day's partition in this transaction (docs/storage.md says how long).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 00:40:00.000000

"""

# ruff: noqa: S608 - every statement is built from this module's names, never from input

from collections.abc import Sequence
from types import ModuleType

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

from services.common.db.partitions import POSTS, TAGS
from services.common.db.roles import API_ROLE, WORKER_ROLE

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLLUP = "topic_rollup"
KEY = "topic_id, grain, bucket, source, lang, sentiment_label, emotion"

# Adds the tags in {tags} to their buckets; takes them out.
ADD = f"""
INSERT INTO {ROLLUP} AS r ({KEY}, posts, confidence_sum)
SELECT t.topic_id, g.grain, date_trunc(g.grain, t.created_at, 'UTC'), t.source, t.lang, t.sentiment_label,
       t.emotion, count(*), sum(t.confidence_score)
FROM added AS t CROSS JOIN (VALUES ('minute'), ('hour')) AS g (grain)
GROUP BY 1, 2, 3, 4, 5, 6, 7
ORDER BY 1, 2, 3, 4, 5, 6, 7
ON CONFLICT ({KEY}) DO UPDATE
SET posts = r.posts + excluded.posts, confidence_sum = r.confidence_sum + excluded.confidence_sum
"""
REMOVE = f"""
UPDATE {ROLLUP} AS r
SET posts = r.posts - gone.posts, confidence_sum = r.confidence_sum - gone.confidence_sum
FROM (
    SELECT t.topic_id, g.grain, date_trunc(g.grain, t.created_at, 'UTC') AS bucket, t.source, t.lang,
           t.sentiment_label, t.emotion, count(*) AS posts, sum(t.confidence_score) AS confidence_sum
    FROM removed AS t CROSS JOIN (VALUES ('minute'), ('hour')) AS g (grain)
    GROUP BY 1, 2, 3, 4, 5, 6, 7
) AS gone
WHERE ({", ".join("r." + c for c in KEY.split(", "))}) = (gone.topic_id, gone.grain, gone.bucket, gone.source, gone.lang, gone.sentiment_label,
    gone.emotion)
"""
FUNCTIONS = {
    "topic_rollup_add": ADD,
    "topic_rollup_remove": REMOVE,
    "topic_rollup_clear": f"TRUNCATE {ROLLUP}",
}
TRIGGERS = {
    "topic_rollup_add": f"AFTER INSERT ON {TAGS} REFERENCING NEW TABLE AS added FOR EACH STATEMENT",
    "topic_rollup_remove": f"AFTER DELETE ON {TAGS} REFERENCING OLD TABLE AS removed FOR EACH STATEMENT",
    "topic_rollup_clear": f"AFTER TRUNCATE ON {TAGS} FOR EACH STATEMENT",
}
# The posts' delete trigger (migration 0006's), deleting the posts' tags first.
REMOVE_POSTS = "sentiment_rollup_remove_posts"


def _function(name: str, body: str) -> None:
    op.execute(
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body}; "
        "RETURN NULL; END $$"
    )


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column(
        "topics",
        sa.Column(
            "match",
            postgresql.TSQUERY(),
            sa.Computed("websearch_to_tsquery('listening'::regconfig, query)", persisted=True),
            nullable=False,
        ),
    )
    op.add_column("topics", sa.Column("revision", sa.Integer(), server_default="1", nullable=False))
    op.add_column("topics", sa.Column("backfilled", sa.Integer(), server_default="0", nullable=False))
    op.add_column("topics", sa.Column("backfill_before", sa.DateTime(timezone=True), nullable=True))
    # The workers run the backfills: its columns are all they change.
    op.execute(f"GRANT UPDATE (backfilled, backfill_before) ON topics TO {WORKER_ROLE}")

    op.create_table(
        TAGS,
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("sentiment_label", sa.String(length=16), nullable=False),
        sa.Column("emotion", sa.String(length=16), nullable=False),
        sa.Column("confidence_score", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("post_id", "created_at", "topic_id", name=op.f("pk_post_topics")),
        postgresql_partition_by="RANGE (created_at)",
    )
    op.create_index("ix_post_topics_topic_id", TAGS, ["topic_id", "created_at"], unique=False)
    # A day for every day the posts have (the maintenance makes the days after).
    days = op.get_bind().execute(
        sa.text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bounds FROM pg_inherits AS i"
            " JOIN pg_class AS c ON c.oid = i.inhrelid WHERE i.inhparent = CAST(:t AS regclass)"
        ),
        {"t": POSTS},
    )
    for day in days.mappings():
        op.execute(f"CREATE TABLE {TAGS}{day['relname'][len(POSTS) :]} PARTITION OF {TAGS} {day['bounds']}")

    op.create_table(
        ROLLUP,
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("grain", sa.String(length=8), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("sentiment_label", sa.String(length=16), nullable=False),
        sa.Column("emotion", sa.String(length=16), nullable=False),
        sa.Column("posts", sa.BigInteger(), nullable=False),
        sa.Column("confidence_sum", sa.Float(), nullable=False),
        sa.CheckConstraint("grain IN ('minute', 'hour')", name=op.f("ck_topic_rollup_grain")),
        sa.PrimaryKeyConstraint(*KEY.split(", "), name=op.f("pk_topic_rollup")),
    )
    for name, body in FUNCTIONS.items():
        _function(name, body)
        op.execute(f"CREATE TRIGGER {name} {TRIGGERS[name]} EXECUTE FUNCTION {name}()")
    _function(REMOVE_POSTS, remove_posts())
    # The workers tag (and delete posts, which deletes their tags); the API deletes a topic's tags when the
    # topic is deleted or changed.
    op.execute(f"GRANT INSERT, DELETE ON {TAGS} TO {WORKER_ROLE}")
    op.execute(f"GRANT DELETE ON {TAGS} TO {API_ROLE}")
    op.execute(f"GRANT INSERT, UPDATE, DELETE ON {ROLLUP} TO {WORKER_ROLE}, {API_ROLE}")

    op.execute(f"CREATE INDEX ix_social_media_posts_search ON {POSTS} USING gin (listening_vector(content))")


def downgrade() -> None:
    """Downgrade schema."""
    op.execute("DROP INDEX ix_social_media_posts_search")
    _function(REMOVE_POSTS, _migration_0006().FUNCTIONS[REMOVE_POSTS])
    for name in FUNCTIONS:
        op.execute(f"DROP TRIGGER {name} ON {TRIGGERS[name].split(' ON ')[1].split()[0]}")
        op.execute(f"DROP FUNCTION {name}()")
    op.drop_table(ROLLUP)
    op.drop_table(TAGS)  # and its partitions
    for column in ("backfill_before", "backfilled", "revision", "match"):
        op.drop_column("topics", column)


def remove_posts() -> str:
    """The posts' delete trigger's body as this migration leaves it (migration 0010 builds on it)."""
    return (
        f"DELETE FROM {TAGS} AS t USING removed AS p WHERE t.post_id = p.post_id AND t.created_at = p.created_at"
        f"; {_migration_0006().FUNCTIONS[REMOVE_POSTS]}"
    )


def _migration_0006() -> ModuleType:
    """Migration 0006's module, as Alembic loaded it."""
    return context.script.get_revision("0006").module
