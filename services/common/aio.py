"""Small asyncio helpers the services share."""

import asyncio
from collections.abc import Awaitable, Sequence
from typing import TypeVar

T = TypeVar("T")


async def gather_all(*calls: Awaitable[T]) -> list[T]:
    """Every call's result; if any failed, the first failure, raised once all have ended (a plain gather
    would leave the others running on with a connection that the caller is about to close)."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results  # type: ignore[return-value]


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """``items`` cut into consecutive parts of at most ``size``."""
    return [items[i : i + size] for i in range(0, len(items), size)]
