"""The roles of migration 0004 on the real PostgreSQL: each service's role can do what that service does,
and nothing that would let a compromised one rewrite or destroy the data."""

import asyncpg
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from services.common.db.migrate import give_passwords, quote_identifier
from services.common.db.roles import API_ROLE, WORKER_ROLE
from tests.support import as_role

POST = (
    "INSERT INTO social_media_posts (post_id, source, content, author, created_at) "
    "VALUES ($1, 'test', 'text', 'someone', now())"
)


async def connect(database_url: str, role: str) -> asyncpg.Connection:
    url = make_url(as_role(database_url, role)).set(drivername="postgresql")
    return await asyncpg.connect(url.render_as_string(hide_password=False), timeout=5)


async def test_the_api_role_reads_and_writes_only_alerts(database_url: str) -> None:
    conn = await connect(database_url, API_ROLE)
    try:
        for table in ("social_media_posts", "sentiment_analysis", "sentiment_rollup", "dead_letters"):
            await conn.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - the names above
        tx = conn.transaction()
        await tx.start()
        await conn.execute(
            "INSERT INTO sentiment_alerts (alert_type, threshold_value, actual_value, window_start, "
            "window_end, post_count, triggered_at, details) "
            "VALUES ('t', 1, 2, now(), now(), 1, now(), '{}') "
        )
        await tx.rollback()
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(POST, "from-the-api")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM dead_letters")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE squatter (id int)")
    finally:
        await conn.close()


async def test_the_worker_role_writes_posts_but_cannot_change_the_schema(database_url: str) -> None:
    conn = await connect(database_url, WORKER_ROLE)
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute(POST, "from-the-worker")
        await tx.rollback()
        for statement in (
            "DROP TABLE social_media_posts",
            "ALTER TABLE social_media_posts ADD COLUMN x int",
            "TRUNCATE sentiment_alerts",
            "CREATE TABLE squatter (id int)",
            "DELETE FROM sentiment_alerts",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
    finally:
        await conn.close()


async def test_the_migrate_command_gives_the_roles_their_passwords(database_url: str) -> None:
    await give_passwords(database_url, SecretStr("api-pass-'quoted'-0123"), SecretStr(""))
    owner = await asyncpg.connect(
        make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        stored = await owner.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = $1", API_ROLE)
        assert stored is not None
        assert stored.startswith("SCRAM-SHA-256$")  # hashed by the server, never kept as written
    finally:
        await owner.execute(f"ALTER ROLE {API_ROLE} PASSWORD NULL")  # the local server trusts anyway
        await owner.close()


def test_a_database_name_is_quoted_whatever_it_holds() -> None:
    assert quote_identifier('sentiment"; DROP DATABASE x; --') == '"sentiment""; DROP DATABASE x; --"'
