"""The subscriber side of the queue shim."""

from __future__ import annotations

import queue
from collections.abc import Sequence

from proxyflow.api import PollingSubscriber, check_timeout
from proxyflow.shims.queue.exceptions import (
    SubscriberClosedError,
    SubscriberTimeoutError,
    UnexpectedItemError,
)
from proxyflow.shims.queue.protocols import QueueLike

__all__ = ["QueueSubscriber"]


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
    * **Multi-consumer**: point-to-point: a message goes to whichever reader
      takes it first, so give each queue a single subscriber.
    * **Loss**: none; unread messages stay in the queue.
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
        return _as_bytes(item)

    def _release(self, late: bytes | None) -> None:
        """Nothing to release: the queue belongs to the caller."""


def _as_bytes(item: object) -> bytes:
    if type(item) is bytes:
        return item
    if isinstance(item, (bytes, bytearray, memoryview)):
        return bytes(item)
    raise UnexpectedItemError(
        f"the queue held a {type(item).__name__}, not bytes; is it shared with other code?"
    )
