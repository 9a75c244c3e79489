"""What a source of posts is to the ingester: a sub-command, its arguments, and a coroutine that sends posts
through a ``Producer`` until it is done or told to stop. A new source is one module that defines one."""

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from services.common.settings import Settings
from services.ingester.producer import Producer

Run = Callable[[Settings, argparse.Namespace, asyncio.Event], Awaitable[Producer]]


class SourceError(ValueError):
    """The source cannot start as asked (a bad argument, a file it cannot read): exit 2 with the message."""


def settings_only(parser: argparse.ArgumentParser) -> None:
    """The arguments of a source whose every choice is a setting (a live source: docs/sources.md)."""
    del parser


@dataclass(frozen=True)
class Source:
    name: str  # the sub-command
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Run
