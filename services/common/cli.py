"""What every entry point does first: read the settings (or exit 2 with the message) and set up logging,
which never writes a secret: every secret setting's value, and the key-like parameters of a URL, are
replaced by ``[redacted]`` in every line and traceback, the web server's access log included."""

import logging
import re
import sys
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

from pydantic import SecretStr

from services.common.settings import Settings, SettingsError, load_settings

LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"
REDACTED = "[redacted]"
# A URL's parameters that carry a credential: the live ticket, and keys some clients still send.
SECRET_PARAMETERS = re.compile(r"([?&](?:api_key|apikey|key|ticket|token|access_token)=)[^&\s\"']+", re.I)


def secrets_of(settings: Settings) -> list[str]:
    """Every secret the settings hold: each SecretStr's value (those to come included) and the passwords
    in the data stores' URLs."""
    found = [value.get_secret_value() for value in dict(settings).values() if isinstance(value, SecretStr)]
    for url in (settings.database_url, settings.redis_url):
        password = urlsplit(url).password
        if password:
            found += [password, unquote(password)]
    return sorted({secret for secret in found if secret}, key=len, reverse=True)


class Redacting(logging.Filter):
    """Rewrites each record before it is written: the message formatted and the secrets taken out of it
    and of its traceback."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = list(secrets)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return SECRET_PARAMETERS.sub(rf"\1{REDACTED}", text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def configure_logging(level: str | int = logging.INFO, settings: Settings | None = None) -> None:
    """Log to stderr at ``level``, through the redacting filter, for every logger (the web server's too:
    it is run with no logging set-up of its own)."""
    logging.basicConfig(level=level, format=LOG_FORMAT)
    redacting = Redacting(secrets_of(settings) if settings else ())
    for handler in logging.getLogger().handlers:
        handler.filters = [f for f in handler.filters if not isinstance(f, Redacting)]
        handler.addFilter(redacting)


def settings_or_exit() -> Settings:
    """The settings, or the message naming each bad variable on stderr and exit status 2."""
    try:
        return load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None


def start() -> Settings:
    """The settings, with logging at LOG_LEVEL."""
    settings = settings_or_exit()
    configure_logging(settings.log_level, settings)
    return settings
