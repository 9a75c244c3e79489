"""language, links, tombstones: posts gain ``lang`` and ``url``, the rollup counts by language, deletes leave
a tombstone

- ``social_media_posts.lang`` and ``.url`` are added to the parent, which adds them to every partition; a
  column without a default rewrites nothing, and the posts stored before keep NULL.
- ``sentiment_rollup`` gains ``lang`` in its key ('' for posts without one): the existing buckets are all
  '' (every post stored so far has none), so nothing is recounted, and the triggers are made again with the
  new key. Building the new key reads the rollup once (about a second per million buckets) under an ACCESS
  EXCLUSIVE lock on the rollup alone.
- ``post_tombstones``: a post its source deleted, kept TOMBSTONE_DAYS so that the post is never stored
  again; the workers write it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 13:30:00.000000

"""

# ruff: noqa: S608 - every statement is built from this module's names, never from input

from collections.abc import Sequence
from types import ModuleType

import sqlalchemy as sa
from alembic import context, op

from services.common.db.roles import WORKER_ROLE

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLLUP = "sentiment_rollup"
KEY = "grain, bucket, source, sentiment_label, emotion"
KEY_WITH_LANG = "grain, bucket, source, lang, sentiment_label, emotion"

# Migration 0005's rollup functions, with the posts' language in the key. Adds {analyses} to their buckets:
ADD = """
INSERT INTO sentiment_rollup AS r (grain, bucket, source, lang, sentiment_label, emotion, posts, confidence_sum)
SELECT g.grain, date_trunc(g.grain, p.created_at, 'UTC'), p.source, coalesce(p.lang, ''), a.sentiment_label,
       a.emotion, count(*), sum(a.confidence_score)
FROM {analyses} AS a
JOIN social_media_posts AS p ON p.post_id = a.post_id AND p.created_at = a.created_at
CROSS JOIN (VALUES ('minute'), ('hour')) AS g (grain)
GROUP BY 1, 2, 3, 4, 5, 6
ORDER BY 1, 2, 3, 4, 5, 6
ON CONFLICT (grain, bucket, source, lang, sentiment_label, emotion) DO UPDATE
SET posts = r.posts + excluded.posts, confidence_sum = r.confidence_sum + excluded.confidence_sum
"""

# Takes the analyses in {analyses} of the posts in {posts} out of their buckets.
REMOVE = """
UPDATE sentiment_rollup AS r
SET posts = r.posts - gone.posts, confidence_sum = r.confidence_sum - gone.confidence_sum
FROM (
    SELECT g.grain, date_trunc(g.grain, p.created_at, 'UTC') AS bucket, p.source, coalesce(p.lang, '') AS lang,
           a.sentiment_label, a.emotion, count(*) AS posts, sum(a.confidence_score) AS confidence_sum
    FROM {analyses} AS a
    JOIN {posts} AS p ON p.post_id = a.post_id AND p.created_at = a.created_at
    CROSS JOIN (VALUES ('minute'), ('hour')) AS g (grain)
    GROUP BY 1, 2, 3, 4, 5, 6
) AS gone
WHERE (r.grain, r.bucket, r.source, r.lang, r.sentiment_label, r.emotion)
    = (gone.grain, gone.bucket, gone.source, gone.lang, gone.sentiment_label, gone.emotion)
"""

FUNCTIONS = {
    "sentiment_rollup_add": ADD.format(analyses="added"),
    # as in 0005: the analyses out of the rollup, then deleted, with their post_ids
    "sentiment_rollup_remove_posts": REMOVE.format(analyses="sentiment_analysis", posts="removed")
    + "; DELETE FROM sentiment_analysis AS a USING removed AS p"
    " WHERE a.post_id = p.post_id AND a.created_at = p.created_at"
    "; DELETE FROM post_ids AS i USING removed AS p WHERE i.post_id = p.post_id",
    "sentiment_rollup_remove_analyses": REMOVE.format(analyses="removed", posts="social_media_posts"),
}


def _replace_functions(functions: dict[str, str]) -> None:
    # The triggers call the functions by name: replacing a function's body is enough.
    for name, body in functions.items():
        op.execute(
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body}; "
            "RETURN NULL; END $$"
        )


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column("social_media_posts", sa.Column("lang", sa.String(length=8), nullable=True))
    op.add_column("social_media_posts", sa.Column("url", sa.Text(), nullable=True))

    op.add_column(ROLLUP, sa.Column("lang", sa.String(length=8), server_default="", nullable=False))
    op.execute(f"ALTER TABLE {ROLLUP} DROP CONSTRAINT pk_{ROLLUP}")
    op.execute(f"ALTER TABLE {ROLLUP} ADD CONSTRAINT pk_{ROLLUP} PRIMARY KEY ({KEY_WITH_LANG})")
    _replace_functions(FUNCTIONS)

    op.create_table(
        "post_tombstones",
        sa.Column("post_id", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("post_id", name=op.f("pk_post_tombstones")),
    )
    op.create_index(op.f("ix_post_tombstones_deleted_at"), "post_tombstones", ["deleted_at"], unique=False)
    op.execute(f"GRANT INSERT, DELETE ON post_tombstones TO {WORKER_ROLE}")


def downgrade() -> None:
    """Downgrade schema: the rollup's languages summed together again."""
    op.drop_index(op.f("ix_post_tombstones_deleted_at"), table_name="post_tombstones")
    op.drop_table("post_tombstones")

    _replace_functions({name: _migration_0005().FUNCTIONS[name] for name in FUNCTIONS})
    op.execute(
        f"CREATE TEMPORARY TABLE rollup_by_key ON COMMIT DROP AS SELECT {KEY}, sum(posts) AS posts, "
        f"sum(confidence_sum) AS confidence_sum FROM {ROLLUP} GROUP BY {KEY}"
    )
    op.execute(f"DELETE FROM {ROLLUP}")
    op.execute(f"ALTER TABLE {ROLLUP} DROP CONSTRAINT pk_{ROLLUP}")
    op.drop_column(ROLLUP, "lang")
    op.execute(f"INSERT INTO {ROLLUP} ({KEY}, posts, confidence_sum) SELECT * FROM rollup_by_key")
    op.execute(f"ALTER TABLE {ROLLUP} ADD CONSTRAINT pk_{ROLLUP} PRIMARY KEY ({KEY})")

    op.drop_column("social_media_posts", "url")
    op.drop_column("social_media_posts", "lang")


def _migration_0005() -> ModuleType:
    """Migration 0005's module, as Alembic loaded it."""
    return context.script.get_revision("0005").module
