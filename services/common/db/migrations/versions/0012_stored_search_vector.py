"""stored search vector: each post's ``listening_vector(content)`` kept in a generated column, and the search
index on it

The search index on the expression keeps no word positions, so a phrase (``"power cut"``) or a topic's
phrase is checked against each candidate post's text again, which made its vector again: 12-15 µs a
candidate, 123 ms to count a phrase's first 10,001 matches on 1,000,000 posts. Read from the column, the
check costs a read of the stored vector: 16 ms. The price is about 140 bytes a post, and this migration
rewrites every day's partition of the posts, then builds the index again: 17 s for 1,000,000 posts here,
under a lock that holds the posts' writes and reads meanwhile (docs/storage.md).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 07:10:00.000000

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSTS = "social_media_posts"
INDEX = "ix_social_media_posts_search"


def upgrade() -> None:
    op.execute(f"DROP INDEX {INDEX}")
    op.execute(
        f"ALTER TABLE {POSTS} ADD COLUMN search_vector tsvector"
        " GENERATED ALWAYS AS (listening_vector(content)) STORED NOT NULL"
    )
    op.execute(f"CREATE INDEX {INDEX} ON {POSTS} USING gin (search_vector)")


def downgrade() -> None:
    op.execute(f"DROP INDEX {INDEX}")
    op.execute(f"ALTER TABLE {POSTS} DROP COLUMN search_vector")
    op.execute(f"CREATE INDEX {INDEX} ON {POSTS} USING gin (listening_vector(content))")
