"""post terms: each post's hashtags and mentions, as the views of a topic's authors and hashtags (and
trends) count them

- ``post_terms(content)``: a text's hashtags (``#PhoneLaunch``) and mentions (``@alice``,
  ``@alice.bsky.social``, ``@bob@mastodon.social``), each once, lowercased, with its mark. One definition,
  in SQL, read by the worker as it stores a batch, by this migration for the posts stored before it, and
  by the benchmark seed. A hashtag is ``#`` and letters, digits or ``_``, one of them a letter (``#1`` is
  no hashtag); a mention is ``@`` and a name, then dot- or dash-joined labels (a Bluesky handle), then
  optionally ``@`` and a host (a fediverse account). Neither may follow a letter, a digit, ``_``, ``#`` or
  ``@`` (``a@b.com`` is an address, not a mention); a term over TERM_MAX_CHARS is left out.
- ``post_terms``: a post's terms, one row each, partitioned by day like the posts, deleted with its post
  (the posts' delete trigger deletes them first, as it does the tags) and dropped with its day.

Every stored post's terms are written here, one day's partition at a time (docs/storage.md says how long).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 06:50:00.000000

"""

# ruff: noqa: S608 - every statement is built from this module's names, never from input

from collections.abc import Sequence
from types import ModuleType

import sqlalchemy as sa
from alembic import context, op

from services.common.db.partitions import POSTS, TERMS
from services.common.db.roles import WORKER_ROLE

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TERM_MAX_CHARS = 100  # models.py TERM_MAX_CHARS
_NAME = "[[:alnum:]_]+"
TERMS_FUNCTION = rf"""
CREATE FUNCTION post_terms(content text) RETURNS SETOF text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT DISTINCT lower(m[1])
  FROM regexp_matches(
    content, '(?:^|[^[:alnum:]_#@])(#{_NAME}|@{_NAME}(?:[.-]{_NAME})*(?:@{_NAME}(?:[.-]{_NAME})+)?)', 'g'
  ) AS m
  WHERE length(m[1]) <= {TERM_MAX_CHARS} AND (m[1] LIKE '@%' OR m[1] ~ '[[:alpha:]]')
$$
"""
REMOVE_POSTS = "sentiment_rollup_remove_posts"  # the posts' delete trigger's function
REMOVE_TERMS = (
    f"DELETE FROM {TERMS} AS t USING removed AS p WHERE t.post_id = p.post_id AND t.created_at = p.created_at"
)


def upgrade() -> None:
    op.execute(TERMS_FUNCTION)
    op.create_table(
        TERMS,
        sa.Column("post_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("term", sa.String(length=TERM_MAX_CHARS), nullable=False),
        sa.PrimaryKeyConstraint("post_id", "created_at", "term", name=op.f("pk_post_terms")),
        postgresql_partition_by="RANGE (created_at)",
    )
    days = op.get_bind().execute(
        sa.text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bounds FROM pg_inherits AS i"
            " JOIN pg_class AS c ON c.oid = i.inhrelid WHERE i.inhparent = CAST(:t AS regclass)"
            " ORDER BY c.relname"
        ),
        {"t": POSTS},
    )
    for day in days.mappings().all():
        name = f"{TERMS}{day['relname'][len(POSTS) :]}"
        op.execute(f"CREATE TABLE {name} PARTITION OF {TERMS} {day['bounds']}")
        op.execute(
            f"INSERT INTO {name} (post_id, created_at, term)"
            f" SELECT p.post_id, p.created_at, t.term FROM {day['relname']} AS p,"
            " LATERAL post_terms(p.content) AS t (term)"
        )
    _remove_posts(f"{REMOVE_TERMS}; {_migration_0008().remove_posts()}")
    # The workers write them, and delete them with their posts.
    op.execute(f"GRANT INSERT, DELETE ON {TERMS} TO {WORKER_ROLE}")


def downgrade() -> None:
    _remove_posts(_migration_0008().remove_posts())
    op.drop_table(TERMS)  # and its partitions
    op.execute("DROP FUNCTION post_terms(text)")


def _remove_posts(body: str) -> None:
    op.execute(
        f"CREATE OR REPLACE FUNCTION {REMOVE_POSTS}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body}; "
        "RETURN NULL; END $$"
    )


def _migration_0008() -> ModuleType:
    """Migration 0008's module, as Alembic loaded it."""
    return context.script.get_revision("0008").module
