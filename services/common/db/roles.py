"""The database roles the services connect as (migration 0004 makes and grants them), and their passwords,
which the migrate command sets from the settings."""

import asyncpg
from pydantic import SecretStr

API_ROLE = "sentiment_api"  # reads; writes the alerts
WORKER_ROLE = "sentiment_worker"  # reads; writes posts, analyses, the rollup and dead letters


def _literal(text: str) -> str:
    """A SQL string literal (ALTER ROLE takes no parameters); standard_conforming_strings is on."""
    if "\x00" in text:
        raise ValueError("a password cannot hold a NUL character")
    return "'" + text.replace("'", "''") + "'"


async def set_passwords(conn: asyncpg.Connection, passwords: dict[str, SecretStr]) -> list[str]:
    """Give each role its password, where one is set; the roles given one."""
    given = []
    for role, password in passwords.items():
        if password.get_secret_value():
            # The statement is not logged by the services; PostgreSQL itself logs it only with
            # log_statement = 'ddl' or 'all', which a server holding secrets should not set.
            await conn.execute(
                f"ALTER ROLE {role} WITH LOGIN PASSWORD {_literal(password.get_secret_value())}"
            )
            given.append(role)
    return given
