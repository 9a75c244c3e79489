"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 16:42:17.291926

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "sentiment_alerts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("alert_type", sa.String(length=64), nullable=False),
        sa.Column("threshold_value", sa.Float(), nullable=False),
        sa.Column("actual_value", sa.Float(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("post_count", sa.Integer(), nullable=False),
        sa.Column(
            "triggered_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.CheckConstraint("post_count >= 0", name=op.f("ck_sentiment_alerts_post_count")),
        sa.CheckConstraint("window_start <= window_end", name=op.f("ck_sentiment_alerts_window_order")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sentiment_alerts")),
    )
    op.create_index(
        op.f("ix_sentiment_alerts_triggered_at"), "sentiment_alerts", ["triggered_at"], unique=False
    )
    op.create_table(
        "social_media_posts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("post_id", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_media_posts")),
        sa.UniqueConstraint("post_id", name=op.f("uq_social_media_posts_post_id")),
    )
    op.create_index(
        op.f("ix_social_media_posts_created_at"), "social_media_posts", ["created_at"], unique=False
    )
    op.create_index(op.f("ix_social_media_posts_source"), "social_media_posts", ["source"], unique=False)
    op.create_table(
        "sentiment_analysis",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("post_id", sa.String(length=128), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column(
            "sentiment_label",
            sa.Enum(
                "negative",
                "neutral",
                "positive",
                name="sentiment_label",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("confidence_score", sa.Float(), nullable=False),
        sa.Column(
            "emotion",
            sa.Enum(
                "anger",
                "disgust",
                "fear",
                "joy",
                "neutral",
                "sadness",
                "surprise",
                name="emotion",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("analyzed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "confidence_score >= 0 AND confidence_score <= 1",
            name=op.f("ck_sentiment_analysis_confidence_range"),
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["social_media_posts.post_id"],
            name=op.f("fk_sentiment_analysis_post_id_social_media_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sentiment_analysis")),
        sa.UniqueConstraint("post_id", name=op.f("uq_sentiment_analysis_post_id")),
    )
    op.create_index(
        op.f("ix_sentiment_analysis_analyzed_at"), "sentiment_analysis", ["analyzed_at"], unique=False
    )
    op.create_index(
        op.f("ix_sentiment_analysis_sentiment_label"), "sentiment_analysis", ["sentiment_label"], unique=False
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f("ix_sentiment_analysis_sentiment_label"), table_name="sentiment_analysis")
    op.drop_index(op.f("ix_sentiment_analysis_analyzed_at"), table_name="sentiment_analysis")
    op.drop_table("sentiment_analysis")
    op.drop_index(op.f("ix_social_media_posts_source"), table_name="social_media_posts")
    op.drop_index(op.f("ix_social_media_posts_created_at"), table_name="social_media_posts")
    op.drop_table("social_media_posts")
    op.drop_index(op.f("ix_sentiment_alerts_triggered_at"), table_name="sentiment_alerts")
    op.drop_table("sentiment_alerts")
