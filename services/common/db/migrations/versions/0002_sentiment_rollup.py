"""sentiment rollup: posts per minute and per hour, kept by triggers

The aggregations read whole minutes and hours from ``sentiment_rollup`` instead of counting posts. PostgreSQL
keeps it, in the transaction of each write, whoever the writer is (the worker, COPY, a test):

- an INSERT into sentiment_analysis adds the new analyses to their buckets (one statement-level trigger,
  with the inserted rows as a transition table, so a batch costs one upsert, in key order against deadlocks);
- a DELETE of a post takes its analysis out first (the cascade then removes the analysis itself), and a
  DELETE of an analysis on its own takes it out too;
- a TRUNCATE of sentiment_analysis (or of the posts, which cascades) empties the rollup.

Analyses and posts are never updated: the platform writes each once.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 08:35:12.977229

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Adds the analyses in {analyses} (a table or transition table) to their minute and hour buckets.
ADD = """
INSERT INTO sentiment_rollup AS r (grain, bucket, source, sentiment_label, emotion, posts, confidence_sum)
SELECT g.grain, date_trunc(g.grain, p.created_at, 'UTC'), p.source, a.sentiment_label, a.emotion,
       count(*), sum(a.confidence_score)
FROM {analyses} AS a
JOIN social_media_posts AS p ON p.post_id = a.post_id
CROSS JOIN (VALUES ('minute'), ('hour')) AS g (grain)
GROUP BY 1, 2, 3, 4, 5
ORDER BY 1, 2, 3, 4, 5
ON CONFLICT (grain, bucket, source, sentiment_label, emotion) DO UPDATE
SET posts = r.posts + excluded.posts, confidence_sum = r.confidence_sum + excluded.confidence_sum
"""

# Takes the analyses in {analyses} of the posts in {posts} out of their buckets.
REMOVE = """
UPDATE sentiment_rollup AS r
SET posts = r.posts - gone.posts, confidence_sum = r.confidence_sum - gone.confidence_sum
FROM (
    SELECT g.grain, date_trunc(g.grain, p.created_at, 'UTC') AS bucket, p.source, a.sentiment_label,
           a.emotion, count(*) AS posts, sum(a.confidence_score) AS confidence_sum
    FROM {analyses} AS a
    JOIN {posts} AS p ON p.post_id = a.post_id
    CROSS JOIN (VALUES ('minute'), ('hour')) AS g (grain)
    GROUP BY 1, 2, 3, 4, 5
) AS gone
WHERE (r.grain, r.bucket, r.source, r.sentiment_label, r.emotion)
    = (gone.grain, gone.bucket, gone.source, gone.sentiment_label, gone.emotion)
"""

FUNCTIONS = {
    "sentiment_rollup_add": ADD.format(analyses="added"),
    # A post deleted (row trigger, before the cascade removes its analysis).
    "sentiment_rollup_remove_post": REMOVE.format(
        analyses="sentiment_analysis",
        posts="(SELECT OLD.post_id AS post_id, OLD.created_at AS created_at, OLD.source AS source)",
    ),
    # Analyses deleted on their own: their posts are still there. (Deleted by the cascade, they have no post
    # left to join, and the post's own trigger has already taken them out.)
    "sentiment_rollup_remove_analyses": REMOVE.format(analyses="removed", posts="social_media_posts"),
    "sentiment_rollup_clear": "TRUNCATE sentiment_rollup",
}
TRIGGERS = {
    "sentiment_rollup_add": (
        "AFTER INSERT ON sentiment_analysis REFERENCING NEW TABLE AS added FOR EACH STATEMENT"
    ),
    "sentiment_rollup_remove_post": "BEFORE DELETE ON social_media_posts FOR EACH ROW",
    "sentiment_rollup_remove_analyses": (
        "AFTER DELETE ON sentiment_analysis REFERENCING OLD TABLE AS removed FOR EACH STATEMENT"
    ),
    "sentiment_rollup_clear": "AFTER TRUNCATE ON sentiment_analysis FOR EACH STATEMENT",
}


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "sentiment_rollup",
        sa.Column("grain", sa.String(length=8), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
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
        sa.Column("posts", sa.BigInteger(), nullable=False),
        sa.Column("confidence_sum", sa.Float(), nullable=False),
        sa.CheckConstraint("grain IN ('minute', 'hour')", name=op.f("ck_sentiment_rollup_grain")),
        sa.PrimaryKeyConstraint(
            "grain", "bucket", "source", "sentiment_label", "emotion", name=op.f("pk_sentiment_rollup")
        ),
    )
    for name, body in FUNCTIONS.items():
        row = name == "sentiment_rollup_remove_post"
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body}; "
            f"RETURN {'OLD' if row else 'NULL'}; END $$"
        )
        op.execute(f"CREATE TRIGGER {name} {TRIGGERS[name]} EXECUTE FUNCTION {name}()")
    op.execute(ADD.format(analyses="sentiment_analysis"))  # what is already there


def downgrade() -> None:
    """Downgrade schema."""
    for name, on in TRIGGERS.items():
        table = on.split(" ON ")[1].split()[0]
        op.execute(f"DROP TRIGGER {name} ON {table}")
        op.execute(f"DROP FUNCTION {name}()")
    op.drop_table("sentiment_rollup")
