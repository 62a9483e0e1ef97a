"""A subscriber base that waits in bounded polls, so that ``close()`` can end a wait."""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Iterator, Sequence
from typing import ClassVar, Final, Generic, TypeVar

from proxyflow.api.closing import Closeable

__all__ = [
    "CONFIGURED",
    "Configured",
    "PollingSubscriber",
    "check_timeout",
    "normalise_topics",
    "wait_time",
]

M = TypeVar("M")


class Configured(enum.Enum):
    """The type of [`CONFIGURED`][proxyflow.api.polling.CONFIGURED]."""

    CONFIGURED = "configured"


CONFIGURED: Final = Configured.CONFIGURED
"""Default of ``PollingSubscriber.next_message(timeout)``: wait as configured at construction.

That is the ``timeout`` the subscriber was built with, the wait iteration uses
(``None`` unless one was given: until a message arrives or the subscriber is
closed).
"""


def check_timeout(timeout: float | None, name: str = "timeout") -> None:
    """Raise ``ValueError`` unless ``timeout`` is ``None`` or a number ``>= 0``."""
    if timeout is not None and not timeout >= 0:
        raise ValueError(f"{name} must be >= 0 or None, got {timeout!r}")


def wait_time(timeout: float | Configured | None, configured: float | None) -> float | None:
    """Return how long a ``next_message(timeout)`` call waits, in seconds (``None``: forever).

    The one rule of every subscriber, sync or asyncio: ``CONFIGURED`` (the
    default) means the ``timeout`` the subscriber was built with.

    Args:
        timeout: What the caller passed.
        configured: The subscriber's own timeout.

    Raises:
        ValueError: if the result is negative.
    """
    if timeout is CONFIGURED:
        return configured
    if timeout is not None and not timeout >= 0:
        check_timeout(timeout)  # raises ValueError
    return timeout


def normalise_topics(topics: str | Sequence[str], *, allow_empty: bool = False) -> tuple[str, ...]:
    """Return ``topics`` as a tuple of distinct non-empty strings, in order.

    A single string is one topic (not a sequence of one-letter topics).

    Args:
        topics: One topic or a sequence of topics.
        allow_empty: Accept ``""`` as a topic, for brokers where the empty
            name is a topic like any other (a Redis channel, a ZeroMQ topic).

    Raises:
        TypeError: if a topic is not a string.
        ValueError: if a topic is empty (and ``allow_empty`` is false).
    """
    if isinstance(topics, str):
        topics = (topics,)
    seen: dict[str, None] = {}
    for topic in topics:
        if not isinstance(topic, str):
            raise TypeError(f"topics must be strings, not {type(topic).__name__}")
        if not topic and not allow_empty:
            raise ValueError("a topic must not be empty")
        seen.setdefault(topic, None)
    return tuple(seen)


class PollingSubscriber(Closeable, Generic[M]):
    """Implements ``next_message``, iteration and a thread-safe ``close`` on top of one poll.

    A subclass implements ``_poll(wait)`` (wait up to ``wait`` seconds for one
    message, return it or ``None``) and ``_release(late)`` (close the
    connection), and names its error classes. ``next_message`` polls in steps
    of at most ``poll_interval`` seconds until a message arrives, the deadline
    passes or another thread calls ``close``; the connection is then released
    by whichever thread is the last to use it, so a poll never runs on a
    released connection.

    Errors raised by ``_poll`` propagate unchanged (after the close handshake):
    a subclass translates its client library's errors inside ``_poll``.

    A message a poll returned is never dropped by this class: it is returned,
    or, when ``close()`` ran meanwhile and ``return_late`` is false, handed to
    ``_release`` (which may put it back). A message that arrived as ``close()``
    ran is returned anyway if another reader still uses the connection (it
    cannot be released yet) or if ``return_late`` is true.

    Args:
        topics: The topics read (see [`normalise_topics`][proxyflow.api.polling.normalise_topics]).
        timeout: What iteration, and ``next_message()`` without an argument,
            wait per message (``None``: forever).
        poll_interval: The longest single wait, in seconds (``> 0``); a
            ``close()`` from another thread takes effect within it.

    Raises:
        ValueError: If ``timeout`` is negative or ``poll_interval`` is not positive.
    """

    closed_error: ClassVar[type[EOFError]] = EOFError
    """Raised by ``next_message`` once the subscriber is closed."""
    timeout_error: ClassVar[type[TimeoutError]] = TimeoutError
    """Raised by ``next_message`` when nothing arrived in time."""
    allow_empty_topics: ClassVar[bool] = False
    """Whether ``""`` counts as a topic (see `normalise_topics`)."""
    return_late: ClassVar[bool] = False
    """Whether a message that arrived while ``close()`` ran is returned rather than released.

    False: it goes to ``_release``, and ``next_message`` raises ``closed_error``.
    True (for brokers that cannot put a message back): it is returned.
    """

    def __init__(
        self,
        topics: str | Sequence[str],
        *,
        timeout: float | None,
        poll_interval: float,
    ) -> None:
        check_timeout(timeout)
        if not poll_interval > 0:
            raise ValueError(f"poll_interval must be > 0, got {poll_interval!r}")
        self._topics = normalise_topics(topics, allow_empty=self.allow_empty_topics)
        self._timeout = timeout
        self._poll_interval = poll_interval
        self._state_lock = threading.Lock()
        self._closed = False
        self._readers = 0

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics this subscriber reads."""
        return self._topics

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called."""
        return self._closed

    def _poll(self, wait: float) -> M | None:
        """Wait up to ``wait`` seconds (``0``: not at all) for one message, else return ``None``."""
        raise NotImplementedError

    def _release(self, late: M | None) -> None:
        """Close the connection; ``late`` is a message that arrived after ``close()``, if any."""
        raise NotImplementedError

    def _describe(self) -> str:
        """Name the subscriber in error messages."""
        return f"{type(self).__name__} on {list(self._topics)}"

    def next_message(self, timeout: float | Configured | None = CONFIGURED) -> M:
        """Return the next message, waiting at most ``timeout`` seconds.

        Args:
            timeout: Seconds to wait; ``None`` waits until a message arrives
                or the subscriber is closed; ``0`` does not wait. By default,
                the ``timeout`` given at construction (as iteration waits).

        Raises:
            TimeoutError: (``timeout_error``) if nothing arrived in time.
            EOFError: (``closed_error``) if the subscriber is or gets closed.
            ValueError: if ``timeout`` is negative.
        """
        timeout = wait_time(timeout, self._timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        # This method is on every message's path: the lock is taken with explicit
        # calls (cheaper than ``with``; nothing in between can raise).
        lock = self._state_lock
        lock.acquire()
        if self._closed:
            lock.release()
            raise self.closed_error(f"the {self._describe()} is closed")
        self._readers += 1
        lock.release()
        interval = self._poll_interval
        message: M | None = None
        try:
            while not self._closed:
                if deadline is None:
                    wait = interval
                else:
                    left = deadline - time.monotonic()
                    wait = interval if left >= interval else (left if left > 0.0 else 0.0)
                message = self._poll(wait)
                if message is not None or (deadline is not None and time.monotonic() >= deadline):
                    break
        finally:
            lock.acquire()
            self._readers -= 1
            closed = self._closed
            release = closed and not self._readers
            lock.release()
            # A message in hand is returned unless it is handed to _release.
            keep = message is not None and (self.return_late or not release)
            if release:
                self._release(None if keep else message)
        if closed and not keep:
            raise self.closed_error(f"the {self._describe()} is closed")
        if message is None:
            raise self.timeout_error(f"no message within {timeout}s for the {self._describe()}")
        return message

    def __iter__(self) -> Iterator[M]:
        return self

    def __next__(self) -> M:
        try:
            return self.next_message(self._timeout)
        except EOFError:
            raise StopIteration from None

    def close(self) -> None:
        """Stop receiving and release the connection; idempotent.

        Called from another thread while one waits in ``next_message``, the
        waiting thread raises ``closed_error`` within ``poll_interval`` and
        releases the connection itself.
        """
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            if self._readers:
                return  # the last reader releases the connection
        self._release(None)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"{type(self).__name__}(topics={list(self._topics)}, {state})"
