"""roles: the API and the workers connect as roles that can do only what each does

The migration role (the one that runs these migrations) owns the schema and every table; nothing else may
create, alter or drop anything in it. ``sentiment_api`` reads everything and writes only the alerts it
raises; ``sentiment_worker`` reads, and writes the posts, their analyses (and the rollup, through the
triggers, which run as the caller) and the dead letters. Both can log in; ``python -m
services.common.db.migrate`` gives them the passwords API_DATABASE_PASSWORD and WORKER_DATABASE_PASSWORD
when those are set. Roles belong to the whole server: made once, granted in each database migrated.
A table added by a later migration is readable by both (default privileges below); what either may write
there, that migration grants.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 04:00:00.000000

"""

from collections.abc import Sequence

from alembic import op

from services.common.db.roles import API_ROLE, WORKER_ROLE

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every statement below is built from these constants alone (S608 is about values from outside).
ROLES = (API_ROLE, WORKER_ROLE)
WRITES = {
    API_ROLE: ("sentiment_alerts",),
    WORKER_ROLE: ("social_media_posts", "sentiment_analysis", "sentiment_rollup", "dead_letters"),
}


def upgrade() -> None:
    """Upgrade schema."""
    for role in ROLES:
        # CREATE ROLE has no IF NOT EXISTS; another database on this server may have made it already.
        op.execute(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN "
            f"CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT; END IF; END $$"
        )
    both = ", ".join(ROLES)
    # No one but the owner creates in the schema (PostgreSQL 15 and later say so by default; 14 does not).
    op.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {both}")
    op.execute(
        "DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO "
        + both
        + "', current_database()); END $$"
    )
    op.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {both}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {both}")
    for role, tables in WRITES.items():
        op.execute(f"GRANT INSERT, UPDATE, DELETE ON {', '.join(tables)} TO {role}")
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {both}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO {both}")


def downgrade() -> None:
    """Downgrade schema."""
    both = ", ".join(ROLES)
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE ON SEQUENCES FROM {both}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON TABLES FROM {both}")  # noqa: S608
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {both}")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {both}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {both}")
    op.execute(
        "DO $$ BEGIN EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM "
        + both
        + "', current_database()); END $$"
    )
    # The roles stay: other databases on this server may be granted to them.
