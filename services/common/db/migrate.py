"""Wait for PostgreSQL, create the database if it is missing, and migrate its schema.

python -m services.common.db.migrate                   # wait, create, upgrade to the newest revision, make
                                                       # the partitions of the retention window, and give
                                                       # the roles their passwords (when set)
python -m services.common.db.migrate --downgrade base  # undo migrations down to a revision
"""

import argparse
import asyncio
import logging
import sys
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from pydantic import SecretStr
from sqlalchemy.engine import make_url
from tenacity import stop_after_delay

from services.common.cli import start
from services.common.db.partitions import maintain_database
from services.common.db.roles import API_ROLE, WORKER_ROLE, set_passwords
from services.common.retry import waiting_out
from services.common.settings import Settings

log = logging.getLogger("migrate")
MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Alembic's ini interpolation would read a '%' in a password as a placeholder.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def _maintenance_dsn(database_url: str) -> str:
    """The server's ``postgres`` database, where a database is created or dropped."""
    url = make_url(database_url).set(drivername="postgresql", database="postgres")
    return url.render_as_string(hide_password=False)


def _not_answering(exc: BaseException) -> bool:
    return isinstance(exc, OSError | asyncpg.PostgresError | TimeoutError)


async def wait_for_database(database_url: str, timeout_s: float) -> None:
    """Return once PostgreSQL accepts connections, creating the database if it does not exist."""
    url = make_url(database_url)
    try:
        async for attempt in waiting_out(
            "PostgreSQL",
            _not_answering,
            log,
            stop=stop_after_delay(timeout_s),
            level=logging.INFO,
            longest_wait_s=1.0,  # noticed within a second of PostgreSQL coming up
        ):
            with attempt:
                conn = await asyncpg.connect(_maintenance_dsn(database_url), timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        where = f"{url.host}:{url.port or 5432}"
        raise TimeoutError(f"PostgreSQL at {where} did not answer within {timeout_s:.0f} s: {exc}") from exc
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", url.database):
            log.info("creating database %s", url.database)
            await conn.execute(f"CREATE DATABASE {quote_identifier(url.database or '')}")
    finally:
        await conn.close()


async def drop_database(database_url: str) -> None:
    """Drop the database named in ``database_url`` (tests and benchmarks use databases of their own)."""
    conn = await asyncpg.connect(_maintenance_dsn(database_url), timeout=5)
    try:
        name = quote_identifier(make_url(database_url).database or "")
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


def quote_identifier(name: str) -> str:
    """A name as SQL quotes it: in double quotes, each double quote doubled (a name is the operator's to
    choose, and may hold one)."""
    return '"' + name.replace('"', '""') + '"'


async def give_passwords(database_url: str, api: SecretStr, worker: SecretStr) -> None:
    """Set the API's and the workers' role passwords, those given."""
    if not (api.get_secret_value() or worker.get_secret_value()):
        return
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        given = await set_passwords(conn, {API_ROLE: api, WORKER_ROLE: worker})
    finally:
        await conn.close()
    log.info("password set for %s", ", ".join(given))


def _default(name: str) -> int:
    value = Settings.model_fields[name].default
    assert isinstance(value, int)
    return value


def upgrade(
    database_url: str,
    revision: str = "head",
    *,
    retention_days: int = _default("retention_days"),
    rollup_retention_days: int = _default("rollup_retention_days"),
) -> None:
    """Migrate up to ``revision``; at the head, run the partition maintenance, so that every day of the
    retention window has its partitions. Call from sync code: Alembic runs its own event loop."""
    command.upgrade(alembic_config(database_url), revision)
    if revision == "head":
        asyncio.run(maintain_database(database_url, retention_days, rollup_retention_days))


def downgrade(database_url: str, revision: str) -> None:
    """Migrate down to ``revision`` (``base`` drops every table)."""
    command.downgrade(alembic_config(database_url), revision)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.common.db.migrate", description=__doc__)
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--downgrade", metavar="REVISION", help="migrate down to REVISION instead of up")
    what.add_argument(
        "--new-revision",
        metavar="MESSAGE",
        help="after upgrading, write a migration for what differs between the models and the database",
    )
    args = parser.parse_args(argv)
    settings = start()
    try:
        asyncio.run(wait_for_database(settings.database_url, settings.db_wait_timeout_s))
    except TimeoutError as exc:
        log.error("%s", exc)
        return 1
    if args.downgrade:
        downgrade(settings.database_url, args.downgrade)
        log.info("schema at %s", args.downgrade)
        return 0
    upgrade(
        settings.database_url,
        retention_days=settings.retention_days,
        rollup_retention_days=settings.rollup_retention_days,
    )
    log.info("schema at head, partitions made for the %d days kept", settings.retention_days)
    asyncio.run(
        give_passwords(
            settings.database_url, settings.api_database_password, settings.worker_database_password
        )
    )
    if args.new_revision:
        number = len(list((MIGRATIONS / "versions").glob("*.py"))) + 1
        config = alembic_config(settings.database_url)
        command.revision(config, message=args.new_revision, autogenerate=True, rev_id=f"{number:04d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
