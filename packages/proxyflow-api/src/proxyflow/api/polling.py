"""A subscriber base that waits in bounded polls, so that ``close()`` can end a wait."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import ClassVar, Generic, TypeVar

from proxyflow.api.closing import Closeable

__all__ = ["PollingSubscriber", "check_timeout", "normalise_topics"]

M = TypeVar("M")


def check_timeout(timeout: float | None, name: str = "timeout") -> None:
    """Raise ``ValueError`` unless ``timeout`` is ``None`` or a number ``>= 0``."""
    if timeout is not None and not timeout >= 0:
        raise ValueError(f"{name} must be >= 0 or None, got {timeout!r}")


def normalise_topics(topics: str | Sequence[str]) -> tuple[str, ...]:
    """Return ``topics`` as a tuple of distinct non-empty strings, in order.

    A single string is one topic (not a sequence of one-letter topics).

    Raises:
        TypeError: if a topic is not a string.
        ValueError: if a topic is empty.
    """
    if isinstance(topics, str):
        topics = (topics,)
    seen: dict[str, None] = {}
    for topic in topics:
        if not isinstance(topic, str):
            raise TypeError(f"topics must be strings, not {type(topic).__name__}")
        if not topic:
            raise ValueError("a topic must not be empty")
        seen.setdefault(topic, None)
    return tuple(seen)


class PollingSubscriber(Closeable, Generic[M]):
    """Implements ``next_message``, iteration and a thread-safe ``close`` on top of one poll.

    A subclass implements ``_poll`` (wait up to a given time for one message)
    and ``_release`` (close the connection), and names its error classes.
    ``next_message`` polls in steps of at most ``poll_interval`` seconds until
    a message arrives, the deadline passes or another thread calls ``close``;
    the connection is then released by whichever thread is the last to use
    it, so a poll never runs on a released connection.

    Errors raised by ``_poll`` propagate unchanged (after the close handshake):
    a subclass translates its client library's errors inside ``_poll``.

    Args:
        topics: The topics read (see [`normalise_topics`][proxyflow.api.polling.normalise_topics]).
        timeout: What iteration waits per message (``None``: forever).
        poll_interval: The longest single wait, in seconds (``> 0``); a
            ``close()`` from another thread takes effect within it.

    Raises:
        ValueError: If ``timeout`` is negative or ``poll_interval`` is not positive.
    """

    closed_error: ClassVar[type[EOFError]] = EOFError
    """Raised by ``next_message`` once the subscriber is closed."""
    timeout_error: ClassVar[type[TimeoutError]] = TimeoutError
    """Raised by ``next_message`` when nothing arrived in time."""

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
        self._topics = normalise_topics(topics)
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

    def next_message(self, timeout: float | None = None) -> M:
        """Return the next message, waiting at most ``timeout`` seconds.

        Args:
            timeout: Seconds to wait; ``None`` waits until a message arrives
                or the subscriber is closed; ``0`` does not wait.

        Raises:
            TimeoutError: (``timeout_error``) if nothing arrived in time.
            EOFError: (``closed_error``) if the subscriber is or gets closed.
            ValueError: if ``timeout`` is negative.
        """
        check_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._state_lock:
            if self._closed:
                raise self.closed_error(f"the {self._describe()} is closed")
            self._readers += 1
        message: M | None = None
        try:
            while message is None and not self._closed:
                wait = self._poll_interval
                if deadline is not None:
                    wait = min(wait, max(0.0, deadline - time.monotonic()))
                message = self._poll(wait)
                if message is None and deadline is not None and time.monotonic() >= deadline:
                    break
        finally:
            with self._state_lock:
                self._readers -= 1
                release = self._closed and self._readers == 0
            if release:
                self._release(message)
        if self._closed:
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
