"""The subscriber side of the queue shim."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator, Sequence

from proxyflow.shims.queue.exceptions import (
    SubscriberClosedError,
    SubscriberTimeoutError,
    UnexpectedItemError,
)
from proxyflow.shims.queue.protocols import QueueLike

__all__ = ["QueueSubscriber"]


class QueueSubscriber:
    """Reads messages from one queue filled by a publisher.

    The publisher is a [`QueuePublisher`][proxyflow.shims.queue.QueuePublisher].

    Behaviour:

    * **Ordering**: FIFO: messages from one publisher on one topic arrive in order.
    * **Blocking**: [`next_message`][proxyflow.shims.queue.subscriber.QueueSubscriber.next_message]
      waits up to its ``timeout`` (``None``: until a message comes or the
      subscriber is closed). Iteration waits as configured at construction:
      ``block=False`` raises at once when the queue is empty, otherwise ``timeout``
      bounds the wait (``None``: forever).
    * **Multi-producer**: any number of publishers may fill the queue.
    * **Multi-consumer**: point-to-point: a message goes to whichever reader
      takes it first, so give each queue a single subscriber.
    * **Loss**: none; unread messages stay in the queue.
    * **close()**: stops receiving:
      [`next_message`][proxyflow.shims.queue.subscriber.QueueSubscriber.next_message]
      then raises `EOFError` and iteration stops. A call blocked in another
      thread notices within ``poll_interval`` seconds. The queue is not closed
      or drained. Calling it twice is fine.

    The queue does not say which topic a message came from, so ``topics`` is
    only what was given here (it may be empty).

    Args:
        queue: The queue to read.
        topics: The topics whose messages arrive on this queue (informational).
        block: Whether iteration waits for a message.
        timeout: Seconds iteration waits before raising
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

    def __init__(
        self,
        queue: QueueLike,
        *,
        topics: Sequence[str] = (),
        block: bool = True,
        timeout: float | None = None,
        poll_interval: float = 0.1,
    ) -> None:
        if isinstance(topics, str):
            topics = (topics,)
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0 or None, got {timeout!r}")
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be > 0, got {poll_interval!r}")
        self._queue = queue
        self._topics = tuple(topics)
        self._block = block
        self._timeout = timeout
        self._poll_interval = poll_interval
        self._closed = False

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics given at construction."""
        return self._topics

    @property
    def closed(self) -> bool:
        """Whether [`close`][proxyflow.shims.queue.subscriber.QueueSubscriber.close] was called."""
        return self._closed

    def next_message(self, timeout: float | None = None) -> bytes:
        """Return the next message, waiting at most ``timeout`` seconds.

        Args:
            timeout: Seconds to wait; ``None`` waits until a message arrives or
                the subscriber is closed; ``0`` does not wait.

        Raises:
            SubscriberTimeoutError: if nothing arrived in time (a ``TimeoutError``).
            SubscriberClosedError: if the subscriber is closed (an ``EOFError``).
            UnexpectedItemError: if the queue held something that is not bytes.
        """
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0 or None, got {timeout!r}")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._closed:
                raise SubscriberClosedError("the QueueSubscriber is closed")
            wait = self._poll_interval
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - time.monotonic()))
            try:
                item = self._queue.get(True, wait) if wait > 0 else self._queue.get(False)
            except queue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise SubscriberTimeoutError(
                        f"no message within {timeout}s on topics {list(self._topics)}"
                    ) from None
                continue
            return _as_bytes(item)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            return self.next_message(self._timeout if self._block else 0.0)
        except EOFError:
            raise StopIteration from None

    def close(self) -> None:
        """Stop receiving; the queue itself is left alone."""
        self._closed = True

    def __enter__(self) -> QueueSubscriber:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"QueueSubscriber(topics={list(self._topics)}, {state})"


def _as_bytes(item: object) -> bytes:
    if type(item) is bytes:
        return item
    if isinstance(item, (bytes, bytearray, memoryview)):
        return bytes(item)
    raise UnexpectedItemError(
        f"the queue held a {type(item).__name__}, not bytes; is it shared with other code?"
    )
