"""topics: the saved queries people watch, and the text-search configuration they are read with

- ``listening``, a text-search configuration copied from PostgreSQL's ``english``: its stemmer and stop
  words, and its parser, which keeps a handle (``@alice.bsky.social``, ``@bob@mastodon.social``) and a link's
  host as one lexeme each (docs/topics.md says why this one).
- ``listening_vector(content)``: a post's text as the topics and the search read it, the configuration's
  vector and, for each host in it, its parent domains as lexemes too (``www.example.com`` is also
  ``example.com``), so that a query names a site as people do.
- ``topics``: a name, a query in ``websearch_to_tsquery`` syntax, the sources and languages it is narrowed
  to (NULL: all). The API writes it; the workers read it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 22:45:00.000000

"""

# ruff: noqa: S608 - every statement is built from this module's names, never from input

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from services.common.db.roles import API_ROLE, WORKER_ROLE
from services.common.messages import LANG_MAX_CHARS, SOURCE_MAX_CHARS

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONFIGURATION = "listening"  # models.py TEXT_SEARCH; fixed here, as a migration's names are
VECTOR = "listening_vector"  # models.py TEXT_VECTOR
# 6 is the default parser's host token (ts_token_type('default')); each host's parents of two labels or
# more join the vector. IMMUTABLE, like to_tsvector with a named configuration: an index may use it.
VECTOR_FUNCTION = f"""
CREATE FUNCTION {VECTOR}(content text) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT to_tsvector('{CONFIGURATION}', content) || array_to_tsvector(ARRAY(
    SELECT DISTINCT array_to_string((string_to_array(lower(p.token), '.'))[n:], '.')
    FROM ts_parse('default', content) AS p
    CROSS JOIN LATERAL generate_series(2, cardinality(string_to_array(p.token, '.')) - 1) AS n
    WHERE p.tokid = 6))
$$
"""


def upgrade() -> None:
    op.execute(f"CREATE TEXT SEARCH CONFIGURATION {CONFIGURATION} (COPY = pg_catalog.english)")
    op.execute(VECTOR_FUNCTION)
    op.create_table(
        "topics",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("query", sa.String(length=500), nullable=False),
        sa.Column("sources", postgresql.ARRAY(sa.String(length=SOURCE_MAX_CHARS)), nullable=True),
        sa.Column("languages", postgresql.ARRAY(sa.String(length=LANG_MAX_CHARS)), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topics")),
        sa.UniqueConstraint("name", name=op.f("uq_topics_name")),
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON topics TO {API_ROLE}")
    op.execute(f"GRANT SELECT ON topics TO {WORKER_ROLE}")


def downgrade() -> None:
    op.drop_table("topics")
    op.execute(f"DROP FUNCTION {VECTOR}(text)")
    op.execute(f"DROP TEXT SEARCH CONFIGURATION {CONFIGURATION}")
