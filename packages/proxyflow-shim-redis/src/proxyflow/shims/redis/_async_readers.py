"""The waiting readers of an asyncio subscriber, and how ``close()`` lets them go.

[`AsyncRedisSubscriberBase`][proxyflow.shims.redis._async_base.AsyncRedisSubscriberBase]
(pub/sub and list queues) and
[`AsyncRedisStreamSubscriber`][proxyflow.shims.redis.AsyncRedisStreamSubscriber]
wait for a message the same way: poll a ``poll_interval`` at a time until
something comes, the deadline passes or the subscriber is closed. ``close()``
then waits for every reader to leave, and takes over what a reader had taken
after the close (it is given back, or dropped, by the subscriber).
`Readers` is that bookkeeping, once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["Readers"]

T = TypeVar("T")


class Readers(Generic[T]):
    """The tasks waiting in one subscriber, and what they took after it was closed.

    Args:
        poll_interval: Seconds one ``take`` may wait, so that a close is seen in time.
        closed: Whether the subscriber is closed.
    """

    __slots__ = ("_closed", "_count", "_gone", "_late", "_poll_interval")

    def __init__(self, poll_interval: float, closed: Callable[[], bool]) -> None:
        self._poll_interval = poll_interval
        self._closed = closed
        self._count = 0
        self._gone: asyncio.Event | None = None
        self._late: list[T] = []

    async def wait(
        self, take: Callable[[float], Awaitable[T | None]], timeout: float | None
    ) -> T | None:
        """Return what ``take(wait)`` gives within ``timeout`` seconds; ``None`` if nothing came.

        Also ``None`` when the subscriber was closed meanwhile: what was taken
        after the close is kept for `leave`.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        self._count += 1
        item = None
        try:
            while not self._closed():
                wait = self._poll_interval
                if deadline is not None:
                    wait = max(0.0, min(wait, deadline - time.monotonic()))
                item = await take(wait)
                if item is not None or (deadline is not None and time.monotonic() >= deadline):
                    break
        finally:
            self._count -= 1
            if self._closed():
                if item is not None:
                    self._late.append(item)  # taken after the close: the closer decides
                    item = None
                if not self._count and self._gone is not None:
                    self._gone.set()
        return item

    async def leave(self) -> list[T]:
        """Wait until every reader has left (call once closed); return what they took late."""
        if self._count:
            self._gone = asyncio.Event()
            await self._gone.wait()
        late, self._late = self._late, []
        return late
