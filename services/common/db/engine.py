"""The async engine and session factory every service uses."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def create_engine(
    database_url: str,
    *,
    pool_size: int = 5,
    command_timeout_s: float | None = None,
    server_settings: dict[str, str] | None = None,
) -> AsyncEngine:
    """``pool_size`` connections kept open, as many again opened (and closed after use) under a burst.
    ``command_timeout_s``: asyncpg gives up on a command after it (TimeoutError) and cancels it on the
    server; ``server_settings``: PostgreSQL settings of each connection (e.g. statement_timeout)."""
    connect_args: dict[str, Any] = {}
    if command_timeout_s is not None:
        connect_args["command_timeout"] = command_timeout_s
    if server_settings:
        connect_args["server_settings"] = server_settings
    return create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        # An error's message names the statement, not its parameters: the posts' text has no place in logs.
        hide_parameters=True,
        connect_args=connect_args,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
