"""The publisher side of the queue shim."""

from __future__ import annotations

import queue

from proxyflow.api import Closeable, Message
from proxyflow.shims.queue.exceptions import QUEUE_FAILURES
from proxyflow.shims.queue.protocols import QueueLike
from proxyflow.shims.queue.publishing import TopicQueues

__all__ = ["QueuePublisher"]

_PUT_FAILURES: tuple[type[BaseException], ...] = (ValueError, *QUEUE_FAILURES)
"""A closed ``multiprocessing`` queue raises ``ValueError``; see `QUEUE_FAILURES` for the rest."""


class QueuePublisher(TopicQueues[QueueLike], Closeable):
    """Publishes messages by putting them on one queue per topic.

    Behaviour:

    * **Ordering**: messages from one publisher on one topic keep their order
      (the queues are FIFO).
    * **Blocking**: when a bounded queue is full, ``send_message`` blocks
      (``block=True``, ``timeout=None``), waits at most ``timeout`` seconds, or
      fails at once (``block=False``); when it gives up it raises
      [`QueueFullError`][proxyflow.shims.queue.exceptions.QueueFullError] and
      the message is not sent.
    * **Multi-producer**: any number of publishers (threads or processes) may
      put on the same queues.
    * **Multi-consumer**: each topic has one queue and every message is taken
      by exactly one reader of that queue. Several
      [`QueueSubscriber`][proxyflow.shims.queue.QueueSubscriber] objects may
      share a queue's work if it carries the producers' roster, which
      [`join`][proxyflow.shims.queue.publisher.QueuePublisher.join] and
      [`leave`][proxyflow.shims.queue.publisher.QueuePublisher.leave] keep: a
      queue of threads (``queue.Queue``...) or one made by
      [`shared_queue`][proxyflow.shims.queue.shared_queue]. A plain
      ``multiprocessing`` queue cannot carry one: give it one subscriber.
    * **Loss**: none; messages wait in the queue until they are read, as long
      as the queue exists. A queue that is closed, or whose manager process
      died, raises
      [`QueueUnavailableError`][proxyflow.shims.queue.exceptions.QueueUnavailableError].
    * **close()**: marks the publisher closed (later sends raise
      [`PublisherClosedError`][proxyflow.shims.queue.exceptions.PublisherClosedError]);
      the queues belong to the caller and are neither closed nor drained.
      Calling it twice is fine.

    The mapping is used as given, not copied: topics added to a mutable mapping
    later are seen by the next ``send_message``. Messages are put as
    `bytes` (a ``bytearray`` or ``memoryview`` is copied once) because a
    `multiprocessing` queue pickles what it carries.

    The signature is ProxyStore's ``QueuePublisher(queues, *, block, timeout)``,
    with the same meaning; unlike ProxyStore's, ``close()`` does not close
    `multiprocessing` queues (they belong to the caller).

    Args:
        queues: Topic name to queue. Several topics may share a queue.
        block: Whether ``send_message`` waits for room in a full queue.
        timeout: Seconds to wait for room when ``block`` is true (``None``: forever).

    Raises:
        ValueError: if ``timeout`` is negative.

    Example:
        ```python
        import queue
        from proxyflow.shims.queue import QueuePublisher, QueueSubscriber

        q: queue.Queue[bytes] = queue.Queue()
        publisher = QueuePublisher({"events": q})
        subscriber = QueueSubscriber(q, topics=["events"])
        publisher.send_message("events", b"hello")
        assert subscriber.next_message(timeout=1) == b"hello"
        ```
    """

    label = "QueuePublisher"

    def send_message(self, topic: str, message: Message) -> None:
        """Put ``message`` on the queue of ``topic``.

        Args:
            topic: The topic; it must be a key of the mapping given at construction.
            message: The message bytes.

        Raises:
            PublisherClosedError: if the publisher was closed.
            UnknownTopicError: if ``topic`` has no queue (a ``KeyError``).
            QueueFullError: if the queue stayed full (a ``TimeoutError``).
            QueueUnavailableError: if the queue was closed or its manager
                process is gone (a ``ConnectionError``).
            TypeError: if ``message`` is not bytes-like.
            ValueError: if ``message`` is a memoryview that is not C-contiguous.
        """
        self._check_open()
        payload = self._payload(message)
        target = self._queue(topic)
        try:
            target.put(payload, self._block, self._timeout)
        except queue.Full:
            raise self._full(topic) from None
        except _PUT_FAILURES as exc:
            raise self._gone(topic, exc) from exc

    def join(self, topic: str, producer_id: bytes) -> None:
        """Record in the roster of ``topic``'s queue that ``producer_id`` publishes on it.

        Idempotent. A plain ``multiprocessing`` queue has no roster: nothing is
        recorded (its subscriber is not a ``WorkSharingSubscriber``, so a
        consumer counts end-of-stream messages instead).

        Raises:
            UnknownTopicError: if ``topic`` has no queue.
            RosterFullError: if a shared queue's roster has no room left.
            TypeError: if ``producer_id`` is not bytes.
            ValueError: if ``producer_id`` is empty or over 255 bytes.
        """
        self._record(topic, producer_id, left=False)

    def leave(self, topic: str, producer_id: bytes) -> None:
        """Record that ``producer_id`` sent its last message on ``topic`` (idempotent).

        Every message a send returned for is in the queue already, so the
        roster never says a producer is done while one of its messages is
        missing.

        Raises:
            UnknownTopicError: if ``topic`` has no queue.
            RosterFullError: if a shared queue's roster has no room left.
            TypeError: if ``producer_id`` is not bytes.
            ValueError: if ``producer_id`` is empty or over 255 bytes.
        """
        self._record(topic, producer_id, left=True)

    def close(self) -> None:
        """Mark the publisher closed; the queues themselves are left alone."""
        self._closed = True
