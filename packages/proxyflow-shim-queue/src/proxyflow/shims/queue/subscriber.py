"""The subscriber side of the queue shim."""

from __future__ import annotations

import queue
from collections.abc import Sequence
from typing import Any

from proxyflow.api import PollingSubscriber, Roster, check_timeout
from proxyflow.shims.queue.exceptions import (
    QUEUE_FAILURES,
    QueueUnavailableError,
    SubscriberClosedError,
    SubscriberTimeoutError,
)
from proxyflow.shims.queue.protocols import QueueLike
from proxyflow.shims.queue.receiving import as_bytes, read_roster
from proxyflow.shims.queue.roster import RosterStore, roster_of

__all__ = ["QueueSubscriber", "WorkSharingQueueSubscriber"]


class QueueSubscriber(PollingSubscriber[bytes]):
    """Reads messages from one queue filled by a publisher.

    The publisher is a [`QueuePublisher`][proxyflow.shims.queue.QueuePublisher].

    Behaviour:

    * **Ordering**: FIFO: messages from one publisher on one topic arrive in order.
    * **Blocking**: [`next_message`][proxyflow.shims.queue.subscriber.QueueSubscriber.next_message]
      waits up to its ``timeout`` (``None``: until a message comes or the
      subscriber is closed). Iteration, and ``next_message()`` without an
      argument, wait as configured at construction: ``block=False`` raises at
      once when the queue is empty, otherwise ``timeout`` bounds the wait
      (``None``: forever), as in ProxyStore's ``QueueSubscriber``.
    * **Multi-producer**: any number of publishers may fill the queue.
    * **Multi-consumer**: a message goes to whichever reader takes it first.
      Several subscribers may share a queue that carries the producers'
      roster: a queue of threads (``queue.Queue``...) or one made by
      [`shared_queue`][proxyflow.shims.queue.shared_queue]. For such a queue
      the constructor returns a
      [`WorkSharingQueueSubscriber`][proxyflow.shims.queue.subscriber.WorkSharingQueueSubscriber],
      whose ``roster(topic)`` tells every consumer when a topic has ended
      (it satisfies ``proxyflow.api.WorkSharingSubscriber``). A plain
      ``multiprocessing`` queue cannot carry a roster: give it a single
      subscriber, or its consumers would share, and miss, the end-of-stream
      messages.
    * **Loss**: none; unread messages stay in the queue. A queue whose
      manager process died raises
      [`QueueUnavailableError`][proxyflow.shims.queue.exceptions.QueueUnavailableError].
    * **close()**: stops receiving:
      [`next_message`][proxyflow.shims.queue.subscriber.QueueSubscriber.next_message]
      then raises `EOFError` and iteration stops. A call blocked in another
      thread notices within ``poll_interval`` seconds (and still returns a
      message it took meanwhile). The queue is not closed or drained. Calling
      it twice is fine. A `multiprocessing` queue closed with its own
      ``close()`` ends the subscriber the same way.

    The queue does not say which topic a message came from, so ``topics`` is
    only what was given here (it may be empty).

    Args:
        queue: The queue to read.
        topics: The topics whose messages arrive on this queue (informational).
        block: Whether iteration waits for a message.
        timeout: Seconds iteration (and ``next_message()``) waits before raising
            [`SubscriberTimeoutError`][proxyflow.shims.queue.exceptions.SubscriberTimeoutError].
        poll_interval: Longest single wait on the queue, so that
            [`close`][proxyflow.shims.queue.subscriber.QueueSubscriber.close]
            from another thread is noticed.

    Raises:
        ValueError: if ``timeout`` is negative or ``poll_interval`` is not positive.

    Example:
        ```python
        import queue
        from proxyflow.shims.queue import QueueSubscriber

        q: queue.Queue[bytes] = queue.Queue()
        q.put(b"ready")
        with QueueSubscriber(q, topics=["events"]) as subscriber:
            assert subscriber.next_message(timeout=1.0) == b"ready"
        ```
    """

    closed_error = SubscriberClosedError
    timeout_error = SubscriberTimeoutError
    allow_empty_topics = True
    return_late = True  # a message taken from the queue cannot be put back in place

    def __new__(cls, queue: QueueLike, *args: Any, **kwargs: Any) -> QueueSubscriber:
        """Make a `WorkSharingQueueSubscriber` when ``queue`` carries a roster."""
        kind = cls
        if cls is QueueSubscriber and roster_of(queue) is not None:
            kind = WorkSharingQueueSubscriber
        return super().__new__(kind)

    def __init__(
        self,
        queue: QueueLike,
        *,
        topics: Sequence[str] = (),
        block: bool = True,
        timeout: float | None = None,
        poll_interval: float = 0.1,
    ) -> None:
        check_timeout(timeout)
        super().__init__(topics, timeout=timeout if block else 0.0, poll_interval=poll_interval)
        self._queue = queue
        self._block = block

    def _poll(self, wait: float) -> bytes | None:
        try:
            item = self._queue.get(True, wait) if wait > 0 else self._queue.get(False)
        except queue.Empty:
            return None
        except ValueError as exc:  # a multiprocessing queue closed in this process
            raise SubscriberClosedError(f"the queue of the {self._describe()} is closed") from exc
        except QUEUE_FAILURES as exc:
            raise QueueUnavailableError(
                f"the queue of the {self._describe()} cannot be used ({type(exc).__name__}: "
                f"{exc}): the manager process behind it exited?"
            ) from exc
        return as_bytes(item)

    def _release(self, late: bytes | None) -> None:
        """Nothing to release: the queue belongs to the caller."""


class WorkSharingQueueSubscriber(QueueSubscriber):
    """A [`QueueSubscriber`][proxyflow.shims.queue.QueueSubscriber] of a queue with a roster.

    ``QueueSubscriber(queue, ...)`` returns one when the queue carries the
    producers' roster (see [`proxyflow.shims.queue.roster`][proxyflow.shims.queue.roster]);
    it satisfies ``proxyflow.api.WorkSharingSubscriber``. Several of them may
    share a queue: each knows a topic has ended once its roster is complete
    and the queue holds nothing more for it (read the roster first).
    """

    def __init__(
        self,
        queue: QueueLike,
        *,
        topics: Sequence[str] = (),
        block: bool = True,
        timeout: float | None = None,
        poll_interval: float = 0.1,
    ) -> None:
        super().__init__(
            queue, topics=topics, block=block, timeout=timeout, poll_interval=poll_interval
        )
        store = roster_of(queue)
        if store is None:
            raise TypeError(
                f"a {type(queue).__name__} carries no roster: make the queue with "
                "proxyflow.shims.queue.shared_queue(ctx), or use QueueSubscriber"
            )
        self._roster: RosterStore = store

    def roster(self, topic: str) -> Roster:
        """Return the producers that joined and left ``topic`` so far.

        Raises:
            SubscriberClosedError: if the subscriber was closed.
            QueueUnavailableError: if another process holds a shared roster too long.
            TypeError: if ``topic`` is not a string.
        """
        return read_roster(self._roster, topic, closed=self._closed, describe=self._describe())
