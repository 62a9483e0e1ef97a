"""What the synchronous and asyncio list-queue shims share: pops, give-backs, roster keys.

[`RedisQueueSubscriber`][proxyflow.shims.redis.queue.RedisQueueSubscriber]
and its asyncio form pop from the same lists in the same way: through a
connection of their own (so that a server restart is reported, not hidden
by the pool), rotating over their topics' lists so that none starves, with
``LPOP`` when they may not wait (``BLPOP 0`` would block forever) and
``BLPOP`` otherwise. What a subscriber popped after it was closed goes back
to the head of its list. `ListPopper` and `AsyncListPopper` do this for one
subscriber each; the asyncio one also keeps a pop its cancelled reader left
running, for the next read or for the close to collect.

The publishers and subscribers of both forms also share the checks and keys
of a topic's roster (`topic_roster_key`, `roster_field`) and the check that
a ``BLPOP`` can finish within the socket timeout (`check_poll_interval`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any, NamedTuple

from proxyflow.shims.redis.connection import REDIS_ERRORS, translate_errors
from proxyflow.shims.redis.roster import check_producer_id, roster_key

__all__ = [
    "AsyncListPopper",
    "KeyRotation",
    "ListPopper",
    "Popped",
    "check_poll_interval",
    "roster_field",
    "topic_roster_key",
]

_NO_WAIT = 0.001
"""Below this wait (seconds) a pop uses ``LPOP``: ``BLPOP 0`` would block forever."""

_GIVING_BACK = "returning a message taken during close"


class Popped(NamedTuple):
    """One message popped from a list, with the list it came from."""

    key: bytes | str
    """The list key (as Redis returned it, or as asked for)."""
    value: bytes
    """The message."""


def check_poll_interval(socket_timeout: float | None, poll_interval: float) -> None:
    """Check that a ``BLPOP`` of ``poll_interval`` seconds ends before the socket times out.

    Raises:
        ValueError: if ``socket_timeout`` does not exceed ``poll_interval``.
    """
    if socket_timeout is not None and socket_timeout <= poll_interval:
        raise ValueError(
            f"socket_timeout ({socket_timeout}s) must exceed poll_interval "
            f"({poll_interval}s): a BLPOP waits that long for an answer"
        )


def topic_roster_key(prefix: str, topic: str) -> str:
    """Return the key of the roster hash of ``topic``'s list.

    Raises:
        TypeError: if ``topic`` is not a string.
    """
    if not isinstance(topic, str):
        raise TypeError(f"topic must be a string, not {type(topic).__name__}")
    return roster_key(prefix + topic)


def roster_field(kind: bytes, producer_id: bytes) -> bytes:
    """Return the roster field recording that ``producer_id`` joined or left (``kind``).

    Raises:
        TypeError: if ``producer_id`` is not bytes-like.
        ValueError: if it is empty.
    """
    return kind + check_producer_id(producer_id)


class KeyRotation:
    """The order in which a subscriber checks its lists, rotated on every pop."""

    __slots__ = ("_keys",)

    def __init__(self, keys: Sequence[str]) -> None:
        self._keys = list(keys)

    def next_order(self) -> list[str]:
        """Return the keys in this pop's order; the next pop starts one further."""
        keys = self._keys
        if len(keys) > 1:
            self._keys = keys[1:] + keys[:1]
        return keys


class ListPopper:
    """Pops a subscriber's lists through its own connection (synchronous).

    Args:
        connection: A connection taken with ``dedicated_connection``; the
            subscriber releases it.
        keys: The list keys, in the order of the first pop.
        url: The server URL, for error messages.
    """

    __slots__ = ("_connection", "_order", "_url")

    def __init__(self, connection: Any, keys: Sequence[str], url: str) -> None:
        self._connection = connection
        self._order = KeyRotation(keys)
        self._url = url

    def _command(self, *args: str | bytes | float) -> Any:
        connection = self._connection
        connection.send_command(*args, check_health=False)
        return connection.read_response()

    def pop(self, wait: float) -> Popped | None:
        """Pop one message, waiting up to ``wait`` seconds; redis-py's errors pass through."""
        keys = self._order.next_order()
        if wait < _NO_WAIT:
            for key in keys:
                value = self._command("LPOP", key)
                if value is not None:
                    return Popped(key, value)
            return None
        reply = self._command("BLPOP", *keys, wait)
        return None if reply is None else Popped(reply[0], reply[1])

    def give_back(self, popped: Popped) -> None:
        """Push ``popped`` back to the head of its list (the shim's errors on failure)."""
        with translate_errors(self._url, _GIVING_BACK):
            self._command("LPUSH", popped.key, popped.value)


class AsyncListPopper:
    """Pops a subscriber's lists through its own connection, on asyncio.

    Each pop runs as a task of its own: a reader cancelled while it waits
    leaves the pop running, and the next `take` returns what it took (or
    `give_back_pending` pushes it back on close), so cancelling loses nothing.

    Args:
        connection: A connection taken with ``dedicated_async_connection``;
            the subscriber releases it.
        keys: The list keys, in the order of the first pop.
        url: The server URL, for error messages.
    """

    __slots__ = ("_connection", "_order", "_pending", "_url")

    def __init__(self, connection: Any, keys: Sequence[str], url: str) -> None:
        self._connection = connection
        self._order = KeyRotation(keys)
        self._url = url
        self._pending: asyncio.Future[Popped | None] | None = None

    async def _command(self, *args: str | bytes | float) -> Any:
        connection = self._connection
        await connection.send_command(*args, check_health=False)
        return await connection.read_response()

    async def _pop(self, wait: float) -> Popped | None:
        keys = self._order.next_order()
        if wait < _NO_WAIT:
            for key in keys:
                value = await self._command("LPOP", key)
                if value is not None:
                    return Popped(key, value)
            return None
        reply = await self._command("BLPOP", *keys, wait)
        return None if reply is None else Popped(reply[0], reply[1])

    async def take(self, wait: float) -> Popped | None:
        """Return what the running pop took, starting one if none runs.

        redis-py's errors pass through (and end the pop).
        """
        pending = self._pending
        if pending is None:
            pending = self._pending = asyncio.ensure_future(self._pop(wait))
        try:
            # A cancelled reader leaves the pop in _pending: the next call collects it.
            popped = await asyncio.shield(pending)
        except REDIS_ERRORS:
            self._pending = None
            raise
        self._pending = None
        return popped

    async def give_back(self, popped: Popped) -> None:
        """Push ``popped`` back to the head of its list (the shim's errors on failure)."""
        with translate_errors(self._url, _GIVING_BACK):
            await self._command("LPUSH", popped.key, popped.value)

    async def give_back_pending(self) -> None:
        """Finish a pop a cancelled reader left running and push back what it took.

        An error of that pop is not raised (the subscriber is closing); one
        pushing back is, as the shim's error.
        """
        pending, self._pending = self._pending, None
        if pending is not None:
            with contextlib.suppress(*REDIS_ERRORS):
                popped = await pending
                if popped is not None:
                    await self.give_back(popped)
