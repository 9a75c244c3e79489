"""topics: the saved queries people watch, and the text-search configuration they are read with

- ``listening``, a text-search configuration copied from PostgreSQL's ``english``: its stemmer and stop
  words, and its parser, which keeps a handle (``@alice.bsky.social``, ``@bob@mastodon.social``) and a link's
  host as one lexeme each (docs/topics.md says why this one).
- ``topics``: a name, a query in ``websearch_to_tsquery`` syntax, the sources and languages it is narrowed
  to (NULL: all). The API writes it; the workers read it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 22:45:00.000000

"""

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


def upgrade() -> None:
    op.execute(f"CREATE TEXT SEARCH CONFIGURATION {CONFIGURATION} (COPY = pg_catalog.english)")
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
    op.execute(f"DROP TEXT SEARCH CONFIGURATION {CONFIGURATION}")
