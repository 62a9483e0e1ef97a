"""The asyncio subscriber of the queue shim: reads one ``asyncio.Queue``."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Any

from proxyflow.api import (
    CONFIGURED,
    AsyncCloseable,
    Configured,
    Roster,
    check_timeout,
    normalise_topics,
    wait_time,
)
from proxyflow.shims.queue.async_publisher import check_asyncio_queue
from proxyflow.shims.queue.exceptions import (
    QueueUnavailableError,
    SubscriberClosedError,
    SubscriberTimeoutError,
)
from proxyflow.shims.queue.receiving import as_bytes, read_roster
from proxyflow.shims.queue.roster import RosterStore, roster_of
from proxyflow.shims.queue.waiting import QUEUE_SHUT_DOWN, CloseSignal

__all__ = ["AsyncQueueSubscriber"]


class AsyncQueueSubscriber(AsyncCloseable):
    """Reads the messages of one ``asyncio.Queue`` filled by a publisher.

    The publisher is an [`AsyncQueuePublisher`][proxyflow.shims.queue.AsyncQueuePublisher].
    The asyncio form of [`QueueSubscriber`][proxyflow.shims.queue.QueueSubscriber],
    with the same arguments (but ``poll_interval``: nothing polls) and
    behaviour. It satisfies ``proxyflow.api.AsyncSubscriber`` and
    ``AsyncWorkSharingSubscriber``.

    Behaviour:

    * **Ordering**: FIFO: messages from one publisher on one topic arrive in order.
    * **Blocking**: ``next_message`` waits up to its ``timeout`` (``None``:
      until a message comes or the subscriber is closed) without blocking
      the event loop. ``async for``, and ``next_message()`` without an
      argument, wait as configured at construction: ``block=False`` raises
      at once when the queue is empty, otherwise ``timeout`` bounds the wait
      (``None``: forever).
    * **Multi-producer**: any number of publishers may fill the queue.
    * **Multi-consumer**: a message goes to whichever reader takes it first;
      several subscribers (tasks) may share a queue's work. Every
      ``asyncio.Queue`` carries the producers' roster, so
      [`roster(topic)`][proxyflow.shims.queue.async_subscriber.AsyncQueueSubscriber.roster]
      tells each of them when a topic has ended.
    * **Loss**: none; unread messages stay in the queue. A wait that ends
      (timeout, close, or the reading task cancelled) leaves the queue as it
      was; a message the wait had already taken when the reading task was
      cancelled is kept, and the next ``next_message`` returns it.
    * **close()**: stops receiving: ``next_message`` then raises `EOFError`
      ([`SubscriberClosedError`][proxyflow.shims.queue.exceptions.SubscriberClosedError])
      and ``async for`` stops. A task waiting in ``next_message`` raises it at
      once. The queue is neither shut down nor drained. Calling it twice is
      fine. A queue shut down with ``asyncio.Queue.shutdown()`` (Python
      3.13+) ends the subscriber the same way once it is empty.

    The queue does not say which topic a message came from, so ``topics`` is
    only what was given here (it may be empty). Use the subscriber on the event
    loop of its queue.

    Args:
        queue: The ``asyncio.Queue`` to read.
        topics: The topics whose messages arrive on this queue (informational).
        block: Whether iteration waits for a message.
        timeout: Seconds iteration (and ``next_message()``) waits before raising
            [`SubscriberTimeoutError`][proxyflow.shims.queue.exceptions.SubscriberTimeoutError].

    Raises:
        TypeError: if ``queue`` is not an ``asyncio.Queue``.
        ValueError: if ``timeout`` is negative.

    Example:
        ```python
        import asyncio

        from proxyflow.shims.queue import AsyncQueueSubscriber


        async def main() -> list[bytes]:
            q: asyncio.Queue[bytes] = asyncio.Queue()
            subscriber = AsyncQueueSubscriber(q, topics=["events"])
            for message in (b"a", b"b", b"end"):
                q.put_nowait(message)
            received = []
            async for message in subscriber:
                if message == b"end":
                    await subscriber.close()  # iteration stops
                else:
                    received.append(message)
            return received


        assert asyncio.run(main()) == [b"a", b"b"]
        ```
    """

    def __init__(
        self,
        queue: asyncio.Queue[Any],
        *,
        topics: Sequence[str] = (),
        block: bool = True,
        timeout: float | None = None,
    ) -> None:
        check_asyncio_queue(queue, "AsyncQueueSubscriber")
        check_timeout(timeout)
        self._topics = normalise_topics(topics, allow_empty=True)
        self._queue = queue
        self._timeout = timeout if block else 0.0
        self._closed = False
        self._signal = CloseSignal()
        self._held: deque[object] = deque()  # taken by a wait whose reader was cancelled
        store = roster_of(queue)
        if store is None:
            raise TypeError(f"a {type(queue).__name__} carries no roster: use asyncio.Queue")
        self._roster: RosterStore = store

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics this subscriber reads (as given)."""
        return self._topics

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called."""
        return self._closed

    def _describe(self) -> str:
        return f"AsyncQueueSubscriber on {list(self._topics)}"

    async def next_message(self, timeout: float | Configured | None = CONFIGURED) -> bytes:
        """Return the next message, waiting at most ``timeout`` seconds.

        Args:
            timeout: Seconds to wait; ``None`` waits until a message arrives
                or the subscriber is closed; ``0`` does not wait. By default,
                the ``timeout`` given at construction (as iteration waits).

        Raises:
            SubscriberTimeoutError: if nothing arrived in time (a ``TimeoutError``).
            SubscriberClosedError: if the subscriber is or gets closed, or its
                queue was shut down (an ``EOFError``).
            QueueUnavailableError: if the queue belongs to another event loop.
            UnexpectedItemError: if the queue held something other than bytes.
            ValueError: if ``timeout`` is negative.
        """
        timeout = wait_time(timeout, self._timeout)
        if self._held:
            return as_bytes(self._held.popleft())
        if self._closed:
            raise SubscriberClosedError(f"the {self._describe()} is closed")
        try:
            return as_bytes(self._queue.get_nowait())
        except asyncio.QueueEmpty:
            pass
        except QUEUE_SHUT_DOWN as exc:
            raise self._shut_down(exc) from exc
        if timeout == 0:
            raise SubscriberTimeoutError(f"no message within {timeout}s for the {self._describe()}")
        return await self._wait(timeout)

    async def _wait(self, timeout: float | None) -> bytes:
        get = asyncio.ensure_future(self._queue.get())
        try:
            finished = await self._signal.wait(get, timeout)
        except asyncio.CancelledError:
            if get.done() and not get.cancelled() and get.exception() is None:
                self._held.append(get.result())  # taken from the queue: never dropped
            raise
        if not finished:
            if self._closed:
                raise SubscriberClosedError(f"the {self._describe()} is closed")
            raise SubscriberTimeoutError(f"no message within {timeout}s for the {self._describe()}")
        error = get.exception()
        if error is None:
            return as_bytes(get.result())
        if isinstance(error, QUEUE_SHUT_DOWN):
            raise self._shut_down(error) from error
        if isinstance(error, RuntimeError):  # the queue is bound to another event loop
            raise QueueUnavailableError(
                f"the queue of the {self._describe()} cannot be used here ({error}): use the "
                "queue and the shim's objects on the event loop that created them"
            ) from error
        raise error

    def _shut_down(self, exc: BaseException) -> SubscriberClosedError:
        return SubscriberClosedError(
            f"the queue of the {self._describe()} was shut down ({type(exc).__name__})"
        )

    def __aiter__(self) -> AsyncQueueSubscriber:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.next_message(self._timeout)
        except EOFError:
            raise StopAsyncIteration from None

    async def roster(self, topic: str) -> Roster:
        """Return the producers that joined and left ``topic`` so far.

        Raises:
            SubscriberClosedError: if the subscriber was closed.
            TypeError: if ``topic`` is not a string.
        """
        return read_roster(self._roster, topic, closed=self._closed, describe=self._describe())

    async def close(self) -> None:
        """Stop receiving; a task waiting in ``next_message`` raises `SubscriberClosedError`.

        The queue is left alone. Idempotent.
        """
        self._closed = True
        self._signal.fire()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"AsyncQueueSubscriber(topics={list(self._topics)}, {state})"
