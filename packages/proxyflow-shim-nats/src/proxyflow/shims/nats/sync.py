"""Synchronous JetStream publisher and subscriber, running the asyncio cores on a shared loop.

Each object runs its asyncio core on the process's one background event loop
([`proxyflow.shims.nats.loop`][proxyflow.shims.nats.loop]). Calls block the
calling thread until the core is done; several threads may use one object at
once. See the loop module for what happens at exit and after ``fork``.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Mapping, Sequence
from typing import Literal

from proxyflow.api import DeliveryOutcome, GroupBacklog, Message, Roster, as_message
from proxyflow.shims.nats.connection import NatsCredentials
from proxyflow.shims.nats.delivery import AsyncJetStreamDelivery
from proxyflow.shims.nats.exceptions import (
    DeliveryReleasedError,
    PublisherClosedError,
    SubscriberClosedError,
)
from proxyflow.shims.nats.loop import OnSharedLoop, release
from proxyflow.shims.nats.publisher import AsyncJetStreamPublisher, PreparedSend
from proxyflow.shims.nats.settings import DEFAULT_STREAM, StreamSettings
from proxyflow.shims.nats.subscriber import AsyncJetStreamSubscriber

__all__ = ["JetStreamDelivery", "JetStreamPublisher", "JetStreamSubscriber"]


class JetStreamPublisher(OnSharedLoop):
    """The synchronous form of ``AsyncJetStreamPublisher``.

    See [`AsyncJetStreamPublisher`][proxyflow.shims.nats.publisher.AsyncJetStreamPublisher].
    Satisfies ``proxyflow.api.Publisher``, with the same guarantees: with the
    default ``max_pending_acks=0``, ``send_message`` returns once the server
    has stored the message. The stream is created or checked by the
    constructor. Thread-safe.

    Args:
        url: ``nats://host:port`` (several separated by commas).
        stream: The stream name or its
            [`StreamSettings`][proxyflow.shims.nats.settings.StreamSettings].
        credentials: [`NatsCredentials`][proxyflow.shims.nats.connection.NatsCredentials].
        publish_timeout: Seconds a send may take, retries included.
        max_pending_acks: Sends that may await their acknowledgement (0: none).
        connect_timeout: Seconds a connection attempt may take.
        reconnect_time_wait: Seconds between reconnection attempts.
        max_reconnect_attempts: Reconnection attempts before giving up (``-1``: forever).
        name: Connection name shown by the server.

    Example:
        ```python
        with JetStreamPublisher("nats://127.0.0.1:4222") as publisher:
            publisher.send_message("events", b"hello")  # stored when it returns
        ```
    """

    _closed_error = PublisherClosedError

    def __init__(
        self,
        url: str,
        *,
        stream: str | StreamSettings = DEFAULT_STREAM,
        credentials: NatsCredentials | None = None,
        publish_timeout: float = 10.0,
        max_pending_acks: int = 0,
        connect_timeout: float = 5.0,
        reconnect_time_wait: float = 1.0,
        max_reconnect_attempts: int = 60,
        name: str | None = None,
    ) -> None:
        self._core = AsyncJetStreamPublisher(
            url,
            stream=stream,
            credentials=credentials,
            publish_timeout=publish_timeout,
            max_pending_acks=max_pending_acks,
            connect_timeout=connect_timeout,
            reconnect_time_wait=reconnect_time_wait,
            max_reconnect_attempts=max_reconnect_attempts,
            name=name,
        )
        self._window = threading.Semaphore(max_pending_acks) if max_pending_acks else None
        self._queued: collections.deque[PreparedSend] = collections.deque()
        self._queue_lock = threading.Lock()
        self._drain_scheduled = False
        super().__init__()
        try:
            self._run(self._core.open())
        except BaseException:
            self._closed = True
            release(self._runner, self)
            raise

    @property
    def url(self) -> str:
        """The server URL with its secrets hidden."""
        return self._core.url

    @property
    def stream(self) -> StreamSettings:
        """The stream this publisher sends into."""
        return self._core.stream

    def _describe(self) -> str:
        return f"publisher to {self.url}"

    def send_message(self, topic: str, message: Message) -> None:
        """Send ``message`` on ``topic`` (see ``AsyncJetStreamPublisher.send_message``)."""
        if self._window is None:
            self._run(self._core.send_message(topic, message))
            return
        self._check_process()
        if self._closed:
            raise PublisherClosedError(f"the {self._describe()} is closed")
        self._core.raise_failures()
        send = self._core.prepare(topic, as_message(message))
        if isinstance(send.payload, memoryview):
            send.payload = bytes(send.payload)  # the caller may reuse its buffer on return
        self._window.acquire()
        with self._queue_lock:
            self._queued.append(send)
            wake = not self._drain_scheduled
            self._drain_scheduled = True
        if wake:  # one wake-up of the loop for a burst of sends
            self._runner.call_soon(self._start_queued)

    def _start_queued(self) -> None:
        """Start publishing every queued send, in order (runs on the loop)."""
        assert self._window is not None
        with self._queue_lock:
            sends = list(self._queued)
            self._queued.clear()
            self._drain_scheduled = False
        for send in sends:
            self._core.start_publish(send, self._window.release)

    def join(self, topic: str, producer_id: bytes) -> None:
        """Record that ``producer_id`` publishes on ``topic`` (``WorkSharingPublisher``)."""
        self._run(self._core.join(topic, producer_id))

    def leave(self, topic: str, producer_id: bytes) -> None:
        """Record that ``producer_id`` finished ``topic``, once all its sends are stored."""
        self._run(self._core.leave(topic, producer_id))

    def flush(self) -> None:
        """Wait for every pipelined send (see ``AsyncJetStreamPublisher.flush``)."""
        self._run(self._core.flush())

    def close(self) -> None:
        """Confirm pipelined sends and close the connection; idempotent."""
        self._close_core(self._core.close())

    def __repr__(self) -> str:
        return repr(self._core).replace("AsyncJetStreamPublisher", type(self).__name__, 1)


class JetStreamDelivery:
    """A message from a ``JetStreamSubscriber``, to be settled once (``proxyflow.api.Delivery``).

    The synchronous form of
    [`AsyncJetStreamDelivery`][proxyflow.shims.nats.delivery.AsyncJetStreamDelivery];
    it may be settled from any thread.
    """

    __slots__ = ("_inner", "_owner")

    def __init__(self, inner: AsyncJetStreamDelivery, owner: JetStreamSubscriber) -> None:
        self._inner = inner
        self._owner = owner

    @property
    def message(self) -> bytes:
        """The message."""
        return self._inner.message

    @property
    def topic(self) -> str:
        """The topic the message arrived on."""
        return self._inner.topic

    @property
    def delivery_count(self) -> int:
        """How many times the server has handed this message out: 1 the first time."""
        return self._inner.delivery_count

    @property
    def stream_sequence(self) -> int:
        """The message's sequence number in the stream."""
        return self._inner.stream_sequence

    @property
    def headers(self) -> Mapping[str, str]:
        """The message's NATS headers."""
        return self._inner.headers

    @property
    def settled(self) -> bool:
        """Whether ``ack``, ``nack`` or ``reject`` was called (or ``close`` gave it back)."""
        return self._inner.settled

    def _settle(self, outcome: DeliveryOutcome, delay: float | None = None) -> None:
        state = self._inner.outcome
        if state.refuses(outcome):
            raise DeliveryReleasedError(
                "the subscriber was closed and gave this message back to the server; "
                "it will be delivered again"
            )
        if state.settled:
            return
        self._owner._check_process()
        if self._owner._settle_nowait(self._inner, outcome, delay):
            return  # an outcome that needs no answer: queued without waiting
        if outcome is DeliveryOutcome.ACKED:
            self._owner._run(self._inner.ack())
        elif outcome is DeliveryOutcome.NACKED:
            self._owner._run(self._inner.nack(delay))
        else:
            self._owner._run(self._inner.reject())

    def ack(self) -> None:
        """Confirm the message was handled (see ``AsyncJetStreamDelivery.ack``)."""
        self._settle(DeliveryOutcome.ACKED)

    def nack(self, delay: float | None = None) -> None:
        """Give the message back for redelivery after ``delay`` seconds (``None``: soon)."""
        self._settle(DeliveryOutcome.NACKED, delay)

    def reject(self) -> None:
        """Never deliver this message again; it goes to the dead-letter topic, if any."""
        self._settle(DeliveryOutcome.REJECTED)

    def __repr__(self) -> str:
        return repr(self._inner).replace("AsyncJetStreamDelivery", type(self).__name__, 1)


class JetStreamSubscriber(OnSharedLoop):
    """The synchronous form of ``AsyncJetStreamSubscriber``.

    See [`AsyncJetStreamSubscriber`][proxyflow.shims.nats.subscriber.AsyncJetStreamSubscriber].
    Satisfies ``proxyflow.api.AckingSubscriber`` (and ``Subscriber``),
    ``WorkSharingSubscriber`` and ``DrainableSubscriber``, with the
    same guarantees and arguments. The stream and durable consumers are
    created or checked by the constructor: a message sent after it returns
    reaches this durable. Thread-safe; ``close()`` from another thread ends a
    wait in ``next_delivery``/``next_message`` at once with
    [`SubscriberClosedError`][proxyflow.shims.nats.exceptions.SubscriberClosedError]
    (an ``EOFError``).

    Example:
        ```python
        subscriber = JetStreamSubscriber(url, ["jobs"], durable="workers", ack_wait=60.0)
        delivery = subscriber.next_delivery(timeout=5.0)
        handle(delivery.message)
        delivery.ack()  # never delivered again
        ```
    """

    _closed_error = SubscriberClosedError

    def __init__(
        self,
        url: str,
        topics: str | Sequence[str],
        *,
        durable: str,
        stream: str | StreamSettings = DEFAULT_STREAM,
        ack_wait: float = 30.0,
        max_deliver: int | None = None,
        max_ack_pending: int = 1000,
        batch: int = 64,
        timeout: float | None = None,
        deliver_policy: Literal["all", "new"] = "all",
        dead_letter_topic: str | None = None,
        confirm_acks: bool = True,
        credentials: NatsCredentials | None = None,
        publish_timeout: float = 10.0,
        ack_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        reconnect_time_wait: float = 1.0,
        max_reconnect_attempts: int = 60,
        name: str | None = None,
    ) -> None:
        self._core = AsyncJetStreamSubscriber(
            url,
            topics,
            durable=durable,
            stream=stream,
            ack_wait=ack_wait,
            max_deliver=max_deliver,
            max_ack_pending=max_ack_pending,
            batch=batch,
            timeout=timeout,
            deliver_policy=deliver_policy,
            dead_letter_topic=dead_letter_topic,
            confirm_acks=confirm_acks,
            credentials=credentials,
            publish_timeout=publish_timeout,
            ack_timeout=ack_timeout,
            connect_timeout=connect_timeout,
            reconnect_time_wait=reconnect_time_wait,
            max_reconnect_attempts=max_reconnect_attempts,
            name=name,
        )
        self._timeout = timeout
        super().__init__()
        try:
            self._run(self._core.open())
        except BaseException:
            self._closed = True
            release(self._runner, self)
            raise

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics this subscriber reads."""
        return self._core.topics

    @property
    def url(self) -> str:
        """The server URL with its secrets hidden."""
        return self._core.url

    @property
    def durable(self) -> str:
        """The durable name shared by the subscribers that share the work."""
        return self._core.durable

    @property
    def stream(self) -> StreamSettings:
        """The stream read."""
        return self._core.stream

    @property
    def consumer_names(self) -> tuple[str, ...]:
        """The names of the durable consumers, one per topic."""
        return self._core.consumer_names

    def _describe(self) -> str:
        return f"subscriber of {list(self.topics)}"

    def next_delivery(self, timeout: float | None = None) -> JetStreamDelivery:
        """Return the next delivery, waiting at most ``timeout`` seconds (``None``: forever).

        Raises:
            SubscriberTimeoutError: (a ``TimeoutError``) if nothing arrived in time.
            SubscriberClosedError: (an ``EOFError``) if the subscriber is or gets closed.
            BrokerUnavailableError: if the connection is lost for good.
        """
        self._check_process()
        ready = None if self._closed else self._core.take_ready()  # no wait: no loop hop
        if ready is None:
            ready = self._run(self._core.next_delivery(timeout))
        return JetStreamDelivery(ready, self)

    def _settle_nowait(
        self, delivery: AsyncJetStreamDelivery, outcome: DeliveryOutcome, delay: float | None
    ) -> bool:
        return not self._closed and self._core.settle_nowait(delivery, outcome, delay)

    def next_message(self, timeout: float | None = None) -> Message:
        """Return the next message, acknowledged on receipt."""
        delivery = self.next_delivery(timeout)
        delivery.ack()
        return delivery.message

    def __iter__(self) -> JetStreamSubscriber:
        return self

    def __next__(self) -> Message:
        try:
            return self.next_message(self._timeout)
        except EOFError:
            raise StopIteration from None

    def roster(self, topic: str) -> Roster:
        """Return the producers that joined and left ``topic`` (``WorkSharingSubscriber``)."""
        return self._run(self._core.roster(topic))

    def backlog(self, topic: str) -> GroupBacklog:
        """Return what the durable has left of ``topic`` (``DrainableSubscriber``)."""
        return self._run(self._core.backlog(topic))

    def close(self) -> None:
        """Give back unsettled deliveries and close; idempotent, callable from any thread."""
        self._close_core(self._core.close())

    def __repr__(self) -> str:
        return repr(self._core).replace("AsyncJetStreamSubscriber", type(self).__name__, 1)
