"""No log line shows a secret: the redacting filter every service logs through."""

import io
import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from services.common.cli import REDACTED, configure_logging, secrets_of
from services.common.settings import Settings

KEY = "k-live-5e1f0c9a7b3d"
WEBHOOK = "https://hooks.example.org/services/T0/B0/abcdef0123456789"


@pytest.fixture
def written() -> Iterator[io.StringIO]:
    """What the services' logging set-up writes, with the secrets of these settings to keep out."""
    settings = Settings(
        _env_file=None,
        api_key=SecretStr(KEY),
        alert_webhook_url=SecretStr(WEBHOOK),
        database_url="postgresql+asyncpg://app:pg-9d8c7b6a5f4e@db:5432/posts",
        redis_url="redis://:rd-1a2b3c4d5e6f@redis:6379/0",
    )
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers = []
    # As python -m services.backend leaves uvicorn's loggers (no log_config): passing records to the root.
    # Servers started by other tests may have set them up their own way.
    servers = [logging.getLogger(name) for name in ("uvicorn", "uvicorn.error", "uvicorn.access")]
    kept = [(log.handlers[:], log.level, log.propagate) for log in servers]
    for log in servers:
        log.handlers, log.propagate = [], True
        log.setLevel(logging.NOTSET)
    configure_logging(logging.INFO, settings)
    out = io.StringIO()
    for handler in root.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(out)
    yield out
    root.handlers, root.level = handlers, level
    for log, (its_handlers, its_level, propagate) in zip(servers, kept, strict=True):
        log.handlers, log.propagate = its_handlers, propagate
        log.setLevel(its_level)


def test_every_secret_of_the_settings_is_known() -> None:
    settings = Settings(
        _env_file=None,
        api_key=SecretStr(KEY),
        redis_url="redis://:rd%2F1a2b@redis:6379/0",
    )
    found = secrets_of(settings)
    assert KEY in found
    assert "rd/1a2b" in found  # as written in the URL and as it is
    assert "rd%2F1a2b" in found


def test_no_line_shows_a_secret(written: io.StringIO) -> None:
    log = logging.getLogger("uvicorn.access")
    log.info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/api/posts?api_key={KEY}&limit=5", "1.1", 401
    )
    logging.getLogger("uvicorn.error").info(
        '%s - "WebSocket %s" [accepted]', "127.0.0.1", "/ws/sentiment?ticket=Zx9-abc"
    )
    logging.getLogger("backend").error("posting to %s failed", WEBHOOK)
    try:
        raise ConnectionError("could not connect to redis://:rd-1a2b3c4d5e6f@redis:6379/0")
    except ConnectionError:
        logging.getLogger("worker").exception("lost Redis")
    logging.getLogger("x").warning("database password pg-9d8c7b6a5f4e in a message")
    text = written.getvalue()
    for secret in (KEY, "abcdef0123456789", "Zx9-abc", "rd-1a2b3c4d5e6f", "pg-9d8c7b6a5f4e"):
        assert secret not in text, secret
    assert text.count(REDACTED) >= 6
    assert "limit=5" in text  # the rest of the line stays
    assert "Traceback" in text
