"""The asyncio publisher of the queue shim: one ``asyncio.Queue`` per topic."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from proxyflow.api import AsyncCloseable, Message
from proxyflow.shims.queue.exceptions import PublisherClosedError, QueueUnavailableError
from proxyflow.shims.queue.publishing import TopicQueues
from proxyflow.shims.queue.waiting import QUEUE_SHUT_DOWN, CloseSignal

__all__ = ["AsyncQueuePublisher", "check_asyncio_queue"]


def check_asyncio_queue(queue: object, label: str) -> None:
    """Refuse a queue that is not an ``asyncio.Queue``.

    Raises:
        TypeError: naming the class to use for the queue given.
    """
    if not isinstance(queue, asyncio.Queue):
        raise TypeError(
            f"{label} takes asyncio.Queue objects, not a {type(queue).__name__}; "
            "QueuePublisher and QueueSubscriber take queue.Queue and multiprocessing queues"
        )


class AsyncQueuePublisher(TopicQueues["asyncio.Queue[Any]"], AsyncCloseable):
    """Publishes messages by putting them on one ``asyncio.Queue`` per topic.

    The asyncio form of [`QueuePublisher`][proxyflow.shims.queue.QueuePublisher],
    with the same arguments and behaviour, for streams between tasks of one
    event loop (tests, or a pipeline inside one service). It satisfies
    ``proxyflow.api.AsyncPublisher`` and ``AsyncWorkSharingPublisher``.

    Behaviour:

    * **Ordering**: messages from one publisher on one topic keep their order
      (the queues are FIFO).
    * **Blocking**: when a bounded queue is full, ``send_message`` waits for
      room (``block=True``, ``timeout=None``), waits at most ``timeout``
      seconds, or fails at once (``block=False``); when it gives up it raises
      [`QueueFullError`][proxyflow.shims.queue.exceptions.QueueFullError] and
      the message is not put. Only that send waits: the event loop runs on.
    * **Multi-producer**: any number of publishers (tasks) may put on the same queues.
    * **Multi-consumer**: each topic has one queue and every message is taken
      by exactly one reader of that queue. Several
      [`AsyncQueueSubscriber`][proxyflow.shims.queue.AsyncQueueSubscriber]
      objects may share a queue's work: every ``asyncio.Queue`` carries the
      producers' roster that
      [`join`][proxyflow.shims.queue.async_publisher.AsyncQueuePublisher.join]
      and [`leave`][proxyflow.shims.queue.async_publisher.AsyncQueuePublisher.leave]
      keep, so each subscriber learns when a topic has ended.
    * **Loss**: none; messages wait in the queue until they are read. A queue
      shut down with ``asyncio.Queue.shutdown()`` (Python 3.13+) raises
      [`QueueUnavailableError`][proxyflow.shims.queue.exceptions.QueueUnavailableError].
    * **close()**: marks the publisher closed (later sends raise
      [`PublisherClosedError`][proxyflow.shims.queue.exceptions.PublisherClosedError]);
      a send waiting for room in another task raises it too, and its message
      is not put. The queues belong to the caller and are neither shut down
      nor drained. Calling it twice is fine.

    An ``asyncio.Queue`` belongs to one event loop: use the queues and the
    shim's objects on that loop (between threads, use the synchronous
    classes with ``queue.Queue``). Messages are put as ``bytes`` (a
    ``bytearray`` or ``memoryview`` is copied once), so the sender may reuse
    its buffer.

    Args:
        queues: Topic name to ``asyncio.Queue``. Several topics may share a
            queue. The mapping is used as given: topics added later are seen.
        block: Whether ``send_message`` waits for room in a full queue.
        timeout: Seconds to wait for room when ``block`` is true (``None``: forever).

    Raises:
        ValueError: if ``timeout`` is negative.

    Example:
        ```python
        import asyncio

        from proxyflow.shims.queue import AsyncQueuePublisher, AsyncQueueSubscriber


        async def main() -> bytes:
            q: asyncio.Queue[bytes] = asyncio.Queue()
            async with (
                AsyncQueuePublisher({"events": q}) as publisher,
                AsyncQueueSubscriber(q, topics=["events"]) as subscriber,
            ):
                await publisher.send_message("events", b"hello")
                return await subscriber.next_message(timeout=1.0)


        assert asyncio.run(main()) == b"hello"
        ```
    """

    label = "AsyncQueuePublisher"

    def __init__(
        self,
        queues: Mapping[str, asyncio.Queue[Any]],
        *,
        block: bool = True,
        timeout: float | None = None,
    ) -> None:
        super().__init__(queues, block=block, timeout=timeout)
        self._signal = CloseSignal()

    def _queue(self, topic: str) -> asyncio.Queue[Any]:
        target = super()._queue(topic)
        if type(target) is not asyncio.Queue:
            check_asyncio_queue(target, self.label)
        return target

    async def send_message(self, topic: str, message: Message) -> None:
        """Put ``message`` on the queue of ``topic``, waiting for room as configured.

        Args:
            topic: The topic; it must be a key of the mapping given at construction.
            message: The message bytes.

        Raises:
            PublisherClosedError: if the publisher was closed, before or while
                the send waited (the message was not put).
            UnknownTopicError: if ``topic`` has no queue (a ``KeyError``).
            QueueFullError: if the queue stayed full (a ``TimeoutError``).
            QueueUnavailableError: if the queue was shut down, or belongs to
                another event loop (a ``ConnectionError``).
            TypeError: if ``message`` is not bytes-like, or the queue is not
                an ``asyncio.Queue``.
            ValueError: if ``message`` is a memoryview that is not C-contiguous.
        """
        self._check_open()
        payload = self._payload(message)
        target = self._queue(topic)
        try:
            target.put_nowait(payload)
            return
        except asyncio.QueueFull:
            if not self._block or self._timeout == 0:
                raise self._full(topic) from None
        except QUEUE_SHUT_DOWN as exc:
            raise self._gone(topic, exc) from exc
        await self._wait_for_room(target, payload, topic)

    async def _wait_for_room(self, target: asyncio.Queue[Any], payload: bytes, topic: str) -> None:
        put = asyncio.ensure_future(target.put(payload))
        if not await self._signal.wait(put, self._timeout):
            if self._closed:
                raise PublisherClosedError(
                    f"the {self.label} was closed while a send on {topic!r} waited for "
                    "room in its queue; the message was not put"
                )
            raise self._full(topic)
        error = put.exception()
        if error is None:
            return
        if isinstance(error, QUEUE_SHUT_DOWN):
            raise self._gone(topic, error) from error
        if isinstance(error, RuntimeError):  # the queue is bound to another event loop
            raise QueueUnavailableError(
                f"the asyncio queue of topic {topic!r} cannot be used here ({error}): use "
                "the queue and the shim's objects on the event loop that created them; "
                "nothing was put"
            ) from error
        raise error

    async def join(self, topic: str, producer_id: bytes) -> None:
        """Record in the roster of ``topic``'s queue that ``producer_id`` publishes on it.

        Idempotent.

        Raises:
            PublisherClosedError: if the publisher was closed.
            UnknownTopicError: if ``topic`` has no queue.
            TypeError: if ``producer_id`` is not bytes.
            ValueError: if ``producer_id`` is empty or over 255 bytes.
        """
        self._record(topic, producer_id, left=False)

    async def leave(self, topic: str, producer_id: bytes) -> None:
        """Record that ``producer_id`` sent its last message on ``topic`` (idempotent).

        Every message whose send returned is in the queue already, so the
        roster never says a producer is done while one of its messages is missing.

        Raises:
            PublisherClosedError: if the publisher was closed.
            UnknownTopicError: if ``topic`` has no queue.
            TypeError: if ``producer_id`` is not bytes.
            ValueError: if ``producer_id`` is empty or over 255 bytes.
        """
        self._record(topic, producer_id, left=True)

    async def close(self) -> None:
        """Mark the publisher closed and end sends waiting for room; the queues are left alone."""
        self._closed = True
        self._signal.fire()
