"""The seams between proxyflow's core and its plug-ins.

A **broker shim** adapts one message broker to [`Publisher`][proxyflow.api.protocols.Publisher]
and [`Subscriber`][proxyflow.api.protocols.Subscriber] (and, for a durable
broker, [`AckingSubscriber`][proxyflow.api.protocols.AckingSubscriber]). A
**connector** adapts one storage system to
[`Connector`][proxyflow.api.connector_protocols.Connector]. Plug-ins satisfy these
protocols structurally: they may import ``proxyflow.api`` for its errors and
helpers, and nothing else of proxyflow.

This module holds the synchronous broker protocols. The asyncio forms live in
[`proxyflow.api.async_protocols`][proxyflow.api.async_protocols], the storage
seam in [`proxyflow.api.connector_protocols`][proxyflow.api.connector_protocols],
and the values they exchange in [`proxyflow.api.broker_types`][proxyflow.api.broker_types]
and [`proxyflow.api.buffers`][proxyflow.api.buffers]; every one of those names
is importable from here too (and from ``proxyflow.api``).

Shims move *bytes on a topic*; they know nothing of events, stores or proxies.
Every shim documents, in its docstring and docs page:

* **Ordering**: whether messages from one publisher on one topic arrive in order.
* **Blocking**: when ``send_message`` blocks (a full queue, a high-water mark)
  and what it does then (block, raise, drop).
* **Multi-producer**: whether several publishers may send on one topic.
* **Multi-consumer**: whether each subscriber receives every message
  (fan-out) or each message goes to exactly one subscriber (work sharing).
* **Loss**: when messages can be lost, and whether the loss is reported.
* **close()**: what it releases; calling it twice is allowed; using a closed
  publisher raises an error.

Errors use built-in classes so that the core needs nothing from a shim:
``TimeoutError`` when a timed receive expires, ``EOFError`` once a subscriber
is closed and ``ConnectionError`` when the broker cannot be reached. The
classes of [`proxyflow.api.exceptions`][proxyflow.api.exceptions] derive from
these, and shims raise subclasses of them.

The async protocols mirror the sync ones method for method, with coroutines.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

# Re-exported below (in __all__): every seam stays importable from here.
from proxyflow.api.async_protocols import (
    AsyncAckingSubscriber,
    AsyncDelivery,
    AsyncDrainableSubscriber,
    AsyncPublisher,
    AsyncSubscriber,
    AsyncWorkSharingPublisher,
    AsyncWorkSharingSubscriber,
)
from proxyflow.api.broker_types import GroupBacklog, Message, Roster
from proxyflow.api.buffers import BytesLike
from proxyflow.api.connector_protocols import (
    AsyncReadableConnector,
    Connector,
    CountingConnector,
    Key,
    VectoredConnector,
)

__all__ = [
    "AckingSubscriber",
    "AsyncAckingSubscriber",
    "AsyncDelivery",
    "AsyncDrainableSubscriber",
    "AsyncPublisher",
    "AsyncReadableConnector",
    "AsyncSubscriber",
    "AsyncWorkSharingPublisher",
    "AsyncWorkSharingSubscriber",
    "BytesLike",
    "Connector",
    "CountingConnector",
    "Delivery",
    "DrainableSubscriber",
    "GroupBacklog",
    "Key",
    "Message",
    "Publisher",
    "Roster",
    "Subscriber",
    "VectoredConnector",
    "WorkSharingPublisher",
    "WorkSharingSubscriber",
]


@runtime_checkable
class Publisher(Protocol):
    """Sends opaque messages to a topic of a broker.

    A publisher is used from one thread at a time unless its shim says otherwise.
    """

    def send_message(self, topic: str, message: Message) -> None:
        """Send one message on ``topic``.

        When it returns, the shim has handed the message to the broker (or to
        its client library's send queue, for shims that say so): a shim that
        knows a message was lost raises instead of returning.

        Raises:
            KeyError: (a subclass of it) if the shim does not know ``topic``.
            ConnectionError: if the broker cannot be reached.
            TimeoutError: if the broker did not accept the message in time.
        """
        ...

    def close(self) -> None:
        """Release the broker connection; idempotent."""
        ...


@runtime_checkable
class Subscriber(Protocol):
    """Receives opaque messages from one or more topics of a broker.

    Iterating yields messages until the subscriber is closed (then the iterator
    stops). A shim-level timeout given at construction makes iteration raise
    ``TimeoutError`` when nothing arrives in time.
    """

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics this subscriber reads; empty if the broker does not say."""
        ...

    def __iter__(self) -> Iterator[Message]:
        """Iterate over incoming messages."""
        ...

    def __next__(self) -> Message:
        """Return the next message, blocking as configured."""
        ...

    def next_message(self, timeout: float | None = None) -> Message:
        """Return the next message, waiting at most ``timeout`` seconds (``None``: forever).

        Raises:
            TimeoutError: if no message arrived within ``timeout``.
            EOFError: if the subscriber was closed.
            ConnectionError: if the broker cannot be reached.
        """
        ...

    def close(self) -> None:
        """Stop receiving and release the broker connection; idempotent.

        May be called from another thread while one waits in
        ``next_message``: that call then raises ``EOFError`` promptly.
        """
        ...


@runtime_checkable
class Delivery(Protocol):
    """One message handed out by an [`AckingSubscriber`][proxyflow.api.protocols.AckingSubscriber].

    The receiver *settles* a delivery exactly once, with
    [`ack`][proxyflow.api.protocols.Delivery.ack] when it has finished with the
    message, [`nack`][proxyflow.api.protocols.Delivery.nack] to have it
    delivered again, or [`reject`][proxyflow.api.protocols.Delivery.reject] to
    give up on it. A delivery that is never settled (the receiver crashed) is
    delivered again once the broker's visibility timeout (``ack_wait``) expires.
    Settling a delivery that is already settled does nothing. Deliveries may be
    settled from any thread, in any order.
    """

    @property
    def message(self) -> Message:
        """The message."""
        ...

    @property
    def topic(self) -> str:
        """The topic the message arrived on."""
        ...

    @property
    def delivery_count(self) -> int:
        """How many times the broker has handed this message out: 1 the first time."""
        ...

    @property
    def settled(self) -> bool:
        """Whether ``ack``, ``nack`` or ``reject`` was called."""
        ...

    def ack(self) -> None:
        """Confirm the message was handled: the broker will not deliver it again.

        Raises:
            ConnectionError: if the broker cannot be reached; the message will
                then be delivered again (at-least-once).
            TimeoutError: if the broker did not confirm the acknowledgement in
                time; it may or may not have taken effect, so the message may be
                delivered again (at-least-once).
        """
        ...

    def nack(self, delay: float | None = None) -> None:
        """Give the message back, to be delivered again after ``delay`` seconds (``None``: soon).

        A message handed out more than the shim's ``max_deliveries`` times is
        moved to the shim's dead-letter place instead (see the shim's docs).
        """
        ...

    def reject(self) -> None:
        """Never deliver this message again (it goes to the dead-letter place, if any)."""
        ...


@runtime_checkable
class AckingSubscriber(Subscriber, Protocol):
    """A subscriber of a durable broker: messages stay with the broker until acknowledged.

    [`next_delivery`][proxyflow.api.protocols.AckingSubscriber.next_delivery]
    hands out [`Delivery`][proxyflow.api.protocols.Delivery] objects. The plain
    [`Subscriber`][proxyflow.api.protocols.Subscriber] methods still work: they
    acknowledge each message as they return it (at-most-once), so an acking
    subscriber can be used wherever a plain one is expected.
    """

    def next_delivery(self, timeout: float | None = None) -> Delivery:
        """Return the next delivery, waiting at most ``timeout`` seconds (``None``: forever).

        Raises:
            TimeoutError: if no message arrived within ``timeout``.
            EOFError: if the subscriber was closed.
            ConnectionError: if the broker cannot be reached.
        """
        ...


@runtime_checkable
class WorkSharingPublisher(Publisher, Protocol):
    """A publisher of a work-sharing broker (each message goes to one subscriber).

    On such a broker an end-of-stream message reaches only one of the
    subscribers, so the broker also keeps a [`Roster`][proxyflow.api.broker_types.Roster]
    of the producers of each topic: a producer ``join``s a topic before its
    first message and ``leave``s it after its last one.
    """

    def join(self, topic: str, producer_id: bytes) -> None:
        """Record that ``producer_id`` publishes on ``topic`` (idempotent)."""
        ...

    def leave(self, topic: str, producer_id: bytes) -> None:
        """Record that ``producer_id`` sent its last message on ``topic`` (idempotent).

        Called after every message of the producer was accepted by the broker.
        """
        ...


@runtime_checkable
class WorkSharingSubscriber(Subscriber, Protocol):
    """A subscriber of a work-sharing broker that can read the producers' roster.

    A consumer of such a subscriber knows a topic has ended when the roster is
    complete and no message is left for it, whichever subscriber took the
    end-of-stream message. Sequence numbers seen by one subscriber have gaps by
    design (the other subscribers took those messages).
    """

    def roster(self, topic: str) -> Roster:
        """Return the producers that joined and left ``topic`` so far."""
        ...


@runtime_checkable
class DrainableSubscriber(Subscriber, Protocol):
    """A subscriber of a durable work-sharing group that can tell what the group has left.

    An optional capability of an acknowledging, work-sharing subscriber
    (Redis Streams consumer groups, JetStream durable consumers). A consumer
    that saw every producer of a topic leave uses it to end only once the
    whole group has *drained* the topic: a member that died holding
    deliveries leaves them unacknowledged until the broker's visibility
    timeout hands them out again, and a consumer that ended before that
    would leave them unprocessed.
    """

    def backlog(self, topic: str) -> GroupBacklog:
        """Return what this subscriber's group has not finished of ``topic``.

        One or a few server requests; meant to be called when the subscriber
        is idle, not per message. The counts are a snapshot: a message that
        is neither undelivered nor unacknowledged in it was acknowledged (or
        given up on) before the call returned.

        Raises:
            EOFError: if the subscriber was closed.
            ConnectionError: if the broker cannot be reached.
            ValueError: if the subscriber does not read ``topic``.
        """
        ...
