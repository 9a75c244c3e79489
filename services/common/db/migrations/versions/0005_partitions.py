"""partitions: posts and analyses by day of created_at, post_ids kept once in a registry

A plain table cannot be altered into a partitioned one, so the data is copied (docs/storage.md says how long
that takes and what it locks): the old tables are renamed, the partitioned ones made with a partition for
every day that holds posts and for the days around today (the partition maintenance makes the rest of the
retention window), the rows copied, the old tables dropped. The rollup already counts what is copied: its
triggers are dropped before the copy and made again after, so nothing is counted twice.

- ``post_ids`` (not partitioned) holds each post_id once with its post's created_at: PostgreSQL refuses a
  UNIQUE (post_id) on a table partitioned by created_at, so the worker inserts here first, in the same
  transaction, and stores the post only if the post_id was new.
- ``sentiment_analysis`` carries its post's ``created_at`` and refers to the post by (post_id, created_at),
  without a declared foreign key: dropping a partition that a foreign key references takes ACCESS EXCLUSIVE
  locks on the other side's partitions, which deadlock with the writers. A statement trigger deletes the
  analyses (and the post_ids) of deleted posts instead of the cascade. A TRUNCATE no longer cascades: empty
  the posts, their analyses and post_ids in one statement (a trigger cannot: the tables are in use by it).
- The rollup's triggers stay on the parents, now joining on both keys. A partition dropped fires none.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 11:00:00.000000

"""

# ruff: noqa: S608 - every statement is built from this module's names and dates, never from input

from collections.abc import Sequence
from datetime import UTC, date, datetime
from types import ModuleType

import sqlalchemy as sa
from alembic import context, op

from services.common.db.partitions import AHEAD_DAYS, ANALYSES, DAY, POSTS, midnight, partition_name
from services.common.db.roles import WORKER_ROLE

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "_unpartitioned"
SENTIMENTS = ("negative", "neutral", "positive")
EMOTIONS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")

# Migration 0002's rollup, now with the partition key in every join. Adds {analyses}' to their buckets:
ADD = """
INSERT INTO sentiment_rollup AS r (grain, bucket, source, sentiment_label, emotion, posts, confidence_sum)
SELECT g.grain, date_trunc(g.grain, p.created_at, 'UTC'), p.source, a.sentiment_label, a.emotion,
       count(*), sum(a.confidence_score)
FROM {analyses} AS a
JOIN social_media_posts AS p ON p.post_id = a.post_id AND p.created_at = a.created_at
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
    JOIN {posts} AS p ON p.post_id = a.post_id AND p.created_at = a.created_at
    CROSS JOIN (VALUES ('minute'), ('hour')) AS g (grain)
    GROUP BY 1, 2, 3, 4, 5
) AS gone
WHERE (r.grain, r.bucket, r.source, r.sentiment_label, r.emotion)
    = (gone.grain, gone.bucket, gone.source, gone.sentiment_label, gone.emotion)
"""

FUNCTIONS = {
    "sentiment_rollup_add": ADD.format(analyses="added"),
    # Posts deleted: their analyses out of the rollup, then deleted, with their post_ids. (That DELETE fires
    # sentiment_rollup_remove_analyses, which finds no post left to join: nothing is taken out twice.)
    "sentiment_rollup_remove_posts": REMOVE.format(analyses="sentiment_analysis", posts="removed")
    + "; DELETE FROM sentiment_analysis AS a USING removed AS p"
    " WHERE a.post_id = p.post_id AND a.created_at = p.created_at"
    "; DELETE FROM post_ids AS i USING removed AS p WHERE i.post_id = p.post_id",
    # Analyses deleted on their own: their posts are still there.
    "sentiment_rollup_remove_analyses": REMOVE.format(analyses="removed", posts="social_media_posts"),
    "sentiment_rollup_clear": "TRUNCATE sentiment_rollup",
}
TRIGGERS = {
    "sentiment_rollup_add": (
        "AFTER INSERT ON sentiment_analysis REFERENCING NEW TABLE AS added FOR EACH STATEMENT"
    ),
    "sentiment_rollup_remove_posts": (
        "AFTER DELETE ON social_media_posts REFERENCING OLD TABLE AS removed FOR EACH STATEMENT"
    ),
    "sentiment_rollup_remove_analyses": (
        "AFTER DELETE ON sentiment_analysis REFERENCING OLD TABLE AS removed FOR EACH STATEMENT"
    ),
    "sentiment_rollup_clear": "AFTER TRUNCATE ON sentiment_analysis FOR EACH STATEMENT",
}
# Migration 0002's triggers, dropped before the copy (and made again by the downgrade).
OLD_TRIGGERS = {
    "sentiment_rollup_add": "sentiment_analysis",
    "sentiment_rollup_remove_post": "social_media_posts",
    "sentiment_rollup_remove_analyses": "sentiment_analysis",
    "sentiment_rollup_clear": "sentiment_analysis",
}
POST_COLUMNS = "id, post_id, source, content, author, created_at, ingested_at"
ANALYSIS_COLUMNS = "id, post_id, model_name, sentiment_label, confidence_score, emotion, analyzed_at"


def _label(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def _rename_indexes(table: str, suffix: str) -> None:
    """Rename the table's indexes (index names are the schema's: the new table's are the same)."""
    names = op.get_bind().execute(
        sa.text("SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename = :t"),
        {"t": table},
    )
    for (name,) in list(names):
        op.execute(f'ALTER INDEX "{name}" RENAME TO "{(str(name) + suffix)[:63]}"')


def _set_aside(table: str) -> None:
    op.execute(f"ALTER TABLE {table} RENAME TO {table}{OLD}")
    _rename_indexes(f"{table}{OLD}", OLD)


def _drop_triggers(triggers: dict[str, str]) -> None:
    for name, table in triggers.items():
        op.execute(f"DROP TRIGGER {name} ON {table}")
        op.execute(f"DROP FUNCTION {name}()")


def _make_triggers(functions: dict[str, str], triggers: dict[str, str]) -> None:
    for name, body in functions.items():
        row = "FOR EACH ROW" in triggers[name]
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body}; "
            f"RETURN {'OLD' if row else 'NULL'}; END $$"
        )
        op.execute(f"CREATE TRIGGER {name} {triggers[name]} EXECUTE FUNCTION {name}()")


def _restart_identity(table: str) -> None:
    op.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) FROM {table}"
    )


def _days_with_posts(table: str) -> set[date]:
    days = op.get_bind().execute(
        sa.text(f"SELECT DISTINCT (created_at AT TIME ZONE 'UTC')::date FROM {table}")
    )
    return {day for (day,) in days if isinstance(day, date)}


def upgrade() -> None:
    """Upgrade schema."""
    _drop_triggers(OLD_TRIGGERS)
    op.drop_constraint("fk_sentiment_analysis_post_id_social_media_posts", ANALYSES, type_="foreignkey")
    _set_aside(POSTS)
    _set_aside(ANALYSES)

    op.create_table(
        "post_ids",
        sa.Column("post_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("post_id", name=op.f("pk_post_ids")),
    )
    op.create_index(op.f("ix_post_ids_created_at"), "post_ids", ["created_at"], unique=False)
    op.create_table(
        POSTS,
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("post_id", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("post_id", "created_at", name=op.f("pk_social_media_posts")),
        postgresql_partition_by="RANGE (created_at)",
    )
    op.create_index(op.f("ix_social_media_posts_created_at"), POSTS, ["created_at"], unique=False)
    op.create_index(op.f("ix_social_media_posts_source"), POSTS, ["source"], unique=False)
    op.create_table(
        ANALYSES,
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("post_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("sentiment_label", _label("sentiment_label", SENTIMENTS), nullable=False),
        sa.Column("confidence_score", sa.Float(), nullable=False),
        sa.Column("emotion", _label("emotion", EMOTIONS), nullable=False),
        sa.Column("analyzed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "confidence_score >= 0 AND confidence_score <= 1",
            name=op.f("ck_sentiment_analysis_confidence_range"),
        ),
        sa.PrimaryKeyConstraint("post_id", "created_at", name=op.f("pk_sentiment_analysis")),
        postgresql_partition_by="RANGE (created_at)",
    )
    op.create_index(op.f("ix_sentiment_analysis_analyzed_at"), ANALYSES, ["analyzed_at"], unique=False)
    op.create_index(
        op.f("ix_sentiment_analysis_sentiment_label"), ANALYSES, ["sentiment_label"], unique=False
    )

    # Nobody writes yet (this transaction holds the old tables): each day is made in place.
    today = datetime.now(UTC).date()
    days = _days_with_posts(POSTS + OLD) | {today + n * DAY for n in range(-1, AHEAD_DAYS + 1)}
    for day in sorted(days):
        low, high = midnight(day).isoformat(), (midnight(day) + DAY).isoformat()
        for table in (POSTS, ANALYSES):
            op.execute(
                f"CREATE TABLE {partition_name(table, day)} PARTITION OF {table} "
                f"FOR VALUES FROM ('{low}') TO ('{high}')"
            )

    op.execute(f"INSERT INTO post_ids (post_id, created_at) SELECT post_id, created_at FROM {POSTS}{OLD}")
    op.execute(
        f"INSERT INTO {POSTS} ({POST_COLUMNS}) OVERRIDING SYSTEM VALUE SELECT {POST_COLUMNS} FROM {POSTS}{OLD}"
    )
    op.execute(
        f"INSERT INTO {ANALYSES} ({ANALYSIS_COLUMNS}, created_at) OVERRIDING SYSTEM VALUE "
        f"SELECT {', '.join('a.' + c for c in ANALYSIS_COLUMNS.split(', '))}, p.created_at "
        f"FROM {ANALYSES}{OLD} AS a JOIN {POSTS}{OLD} AS p ON p.post_id = a.post_id"
    )
    for table in (POSTS, ANALYSES):
        _restart_identity(table)
        op.drop_table(table + OLD)
    _make_triggers(FUNCTIONS, TRIGGERS)
    # New tables are readable by both roles (migration 0004's default privileges); the workers write them.
    # Nobody is granted a partition: every write names the parent, as the statement triggers need.
    op.execute(f"GRANT INSERT, UPDATE, DELETE ON {POSTS}, {ANALYSES}, post_ids TO {WORKER_ROLE}")


def downgrade() -> None:
    """Downgrade schema: back into plain tables, the data copied."""
    _drop_triggers({name: on.split(" ON ")[1].split()[0] for name, on in TRIGGERS.items()})
    _set_aside(POSTS)
    _set_aside(ANALYSES)
    op.execute(f"CREATE TABLE {POSTS} (LIKE {POSTS}{OLD} INCLUDING DEFAULTS INCLUDING IDENTITY)")
    op.execute(f"ALTER TABLE {POSTS} ADD CONSTRAINT pk_{POSTS} PRIMARY KEY (id)")
    op.execute(f"ALTER TABLE {POSTS} ADD CONSTRAINT uq_{POSTS}_post_id UNIQUE (post_id)")
    op.create_index(op.f("ix_social_media_posts_created_at"), POSTS, ["created_at"], unique=False)
    op.create_index(op.f("ix_social_media_posts_source"), POSTS, ["source"], unique=False)
    op.execute(
        f"CREATE TABLE {ANALYSES} (LIKE {ANALYSES}{OLD} INCLUDING DEFAULTS INCLUDING IDENTITY "
        "INCLUDING CONSTRAINTS)"
    )
    op.execute(f"ALTER TABLE {ANALYSES} DROP COLUMN created_at")
    op.execute(f"ALTER TABLE {ANALYSES} ADD CONSTRAINT pk_{ANALYSES} PRIMARY KEY (id)")
    op.execute(f"ALTER TABLE {ANALYSES} ADD CONSTRAINT uq_{ANALYSES}_post_id UNIQUE (post_id)")
    op.execute(
        f"ALTER TABLE {ANALYSES} ADD CONSTRAINT fk_sentiment_analysis_post_id_social_media_posts "
        f"FOREIGN KEY (post_id) REFERENCES {POSTS} (post_id) ON DELETE CASCADE"
    )
    op.create_index(op.f("ix_sentiment_analysis_analyzed_at"), ANALYSES, ["analyzed_at"], unique=False)
    op.create_index(
        op.f("ix_sentiment_analysis_sentiment_label"), ANALYSES, ["sentiment_label"], unique=False
    )
    op.execute(
        f"INSERT INTO {POSTS} ({POST_COLUMNS}) OVERRIDING SYSTEM VALUE SELECT {POST_COLUMNS} FROM {POSTS}{OLD}"
    )
    op.execute(
        f"INSERT INTO {ANALYSES} ({ANALYSIS_COLUMNS}) OVERRIDING SYSTEM VALUE "
        f"SELECT {ANALYSIS_COLUMNS} FROM {ANALYSES}{OLD}"
    )
    for table in (POSTS, ANALYSES):
        _restart_identity(table)
        op.drop_table(table + OLD)
    op.drop_table("post_ids")
    old = _migration_0002()
    _make_triggers(old.FUNCTIONS, old.TRIGGERS)
    op.execute(f"GRANT INSERT, UPDATE, DELETE ON {POSTS}, {ANALYSES} TO {WORKER_ROLE}")


def _migration_0002() -> ModuleType:
    """Migration 0002's module, as Alembic loaded it."""
    return context.script.get_revision("0002").module
