"""dead letters: kept in PostgreSQL until redriven or deleted

They were a Redis stream capped at about 100,000 entries, whose oldest were dropped without a word, lost
with Redis's data, and growing in Redis's memory. A worker moves what an older version left in that stream
into this table when it starts (services/worker/dead_letters.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 01:10:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("entry_id", sa.String(length=64), nullable=False),
        sa.Column("fields", postgresql.ARRAY(sa.LargeBinary()), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("consumer", sa.String(length=128), nullable=False),
        sa.Column(
            "dead_lettered_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_dead_letters_entry_id")),
    )
    op.create_index(op.f("ix_dead_letters_dead_lettered_at"), "dead_letters", ["dead_lettered_at"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f("ix_dead_letters_dead_lettered_at"), table_name="dead_letters")
    op.drop_table("dead_letters")
