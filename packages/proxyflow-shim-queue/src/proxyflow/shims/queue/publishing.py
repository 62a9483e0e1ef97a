"""What the queue publishers share: topics and their queues, messages, the roster, errors.

[`QueuePublisher`][proxyflow.shims.queue.QueuePublisher] and
[`AsyncQueuePublisher`][proxyflow.shims.queue.AsyncQueuePublisher] differ only
in how they wait for room in a full queue; everything else is here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Generic, TypeVar

from proxyflow.api import Message, as_message, check_timeout
from proxyflow.shims.queue.exceptions import (
    PublisherClosedError,
    QueueFullError,
    QueueUnavailableError,
    UnknownTopicError,
)
from proxyflow.shims.queue.roster import check_producer_id, roster_of

__all__ = ["TopicQueues"]

Q = TypeVar("Q")


class TopicQueues(Generic[Q]):
    """One queue per topic, the options of a full queue, and the closed state.

    The base of both queue publishers. The mapping is used as given, not
    copied: topics added to a mutable mapping later are seen by the next send.

    Args:
        queues: Topic name to queue. Several topics may share a queue.
        block: Whether a send waits for room in a full queue.
        timeout: Seconds to wait for room when ``block`` is true (``None``: forever).

    Raises:
        ValueError: if ``timeout`` is negative.
    """

    label: ClassVar[str] = "queue publisher"
    """The class name, for error messages."""

    def __init__(
        self, queues: Mapping[str, Q], *, block: bool = True, timeout: float | None = None
    ) -> None:
        check_timeout(timeout)
        self._queues = queues
        self._block = block
        self._timeout = timeout
        self._closed = False

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics this publisher currently knows, sorted."""
        return tuple(sorted(self._queues))

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._closed

    def _check_open(self, doing: str = "send_message()") -> None:
        if self._closed:
            raise PublisherClosedError(f"{doing} on a closed {self.label}")

    @staticmethod
    def _payload(message: Message) -> bytes:
        """Return ``message`` as ``bytes`` (a ``bytearray`` or ``memoryview`` is copied once).

        Raises:
            TypeError: if ``message`` is not bytes-like.
            ValueError: if ``message`` is a memoryview that is not C-contiguous.
        """
        return message if type(message) is bytes else bytes(as_message(message))

    def _queue(self, topic: str) -> Q:
        try:
            return self._queues[topic]
        except KeyError:
            raise UnknownTopicError(topic, self._queues) from None

    def _full(self, topic: str) -> QueueFullError:
        """The error of a send that found no room in the queue of ``topic``."""
        how = "at once" if not self._block else f"after {self._timeout}s"
        return QueueFullError(f"queue of topic {topic!r} is full ({how})")

    @staticmethod
    def _gone(topic: str, exc: BaseException) -> QueueUnavailableError:
        """The error of a send to a queue that cannot be used any more."""
        return QueueUnavailableError(
            f"the queue of topic {topic!r} cannot be used ({type(exc).__name__}: {exc}): it "
            "was closed or shut down, or the manager process behind it exited; nothing was put"
        )

    def _record(self, topic: str, producer_id: bytes, *, left: bool) -> None:
        """Record a producer's ``join`` (or, with ``left``, ``leave``) in the queue's roster.

        A queue without a roster (a plain ``multiprocessing`` queue) records nothing.

        Raises:
            PublisherClosedError: if the publisher was closed.
            UnknownTopicError: if ``topic`` has no queue.
            RosterFullError: if a shared queue's roster has no room left.
            TypeError: if ``producer_id`` is not bytes.
            ValueError: if ``producer_id`` is empty or over 255 bytes.
        """
        self._check_open("roster change")
        producer_id = check_producer_id(producer_id)
        store = roster_of(self._queue(topic))
        if store is not None:
            store.record(topic, producer_id, left)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"{type(self).__name__}(topics={list(self.topics)}, {state})"
