"""What every entry point does first: read the settings (or exit 2 with the message) and set up logging."""

import logging
import sys

from services.common.settings import Settings, SettingsError, load_settings

LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


def configure_logging(level: str | int = logging.INFO) -> None:
    logging.basicConfig(level=level, format=LOG_FORMAT)


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
    configure_logging(settings.log_level)
    return settings
