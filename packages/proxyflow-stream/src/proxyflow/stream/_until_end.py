"""Iterating a consumer's ``next*`` method until the stream ends, for both consumers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar

__all__ = ["async_until_end", "until_end"]

_R = TypeVar("_R")


def until_end(take: Callable[[], _R]) -> Iterator[_R]:
    """Yield what ``take()`` returns until it raises `StopIteration`."""
    while True:
        try:
            item = take()
        except StopIteration:
            return
        yield item


async def async_until_end(take: Callable[[], Awaitable[_R]]) -> AsyncIterator[_R]:
    """Yield what ``await take()`` returns until it raises `StopAsyncIteration`."""
    while True:
        try:
            item = await take()
        except StopAsyncIteration:
            return
        yield item
