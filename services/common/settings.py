"""The one settings class: every knob of every service, read from the environment.

Variables are the field names in upper case (``DATABASE_URL`` for ``database_url``). A value that does not
fit its type or range is refused at start with a message naming the variable.
"""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# Values copied from an example file and never changed; refused wherever a secret goes.
PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "changethis", "password", "secret", "placeholder"})


class SettingsError(ValueError):
    """The environment holds a value the platform cannot run with."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(
        "postgresql+asyncpg://postgres@127.0.0.1:5432/sentiment",
        description="PostgreSQL for posts, analyses and alerts (SQLAlchemy URL, asyncpg driver).",
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis for the stream, pub/sub and cache.")
    redis_key_prefix: str = Field(
        "",
        max_length=64,
        pattern=r"^[A-Za-z0-9:_.-]*$",
        description="Put before every Redis key and channel name; lets several platforms share one Redis.",
    )
    triton_url: str = Field(
        "127.0.0.1:8001",
        pattern=r"^[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$",
        description="Triton's gRPC endpoint, host:port.",
    )
    triton_timeout_s: float = Field(10.0, gt=0, le=300, description="Deadline of one inference call.")
    model_repository: Path = Field(
        Path("model_repository"),
        description="Triton's model repository; the client reads the served model's tokenizer from it.",
    )
    db_wait_timeout_s: float = Field(
        60.0, gt=0, le=3600, description="How long `migrate` waits for PostgreSQL to answer."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level of every service."
    )

    @field_validator("database_url")
    @classmethod
    def _asyncpg_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"not a database URL ({exc})") from None
        if url.drivername != "postgresql+asyncpg":
            raise ValueError(f"must start with postgresql+asyncpg://, not {url.drivername}://")
        if not url.database:
            raise ValueError("names no database")
        if url.password is not None and url.password.lower() in PLACEHOLDER_SECRETS:
            raise ValueError("has a placeholder password: set a real one")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


def load_settings() -> Settings:
    """Read the environment; a bad value raises SettingsError naming each offending variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc']).upper()}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise SettingsError(f"invalid environment: {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
