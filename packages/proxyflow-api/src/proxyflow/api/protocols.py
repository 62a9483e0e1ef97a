"""The seams between proxyflow's core and its plug-ins.

A **broker shim** adapts one message broker to [`Publisher`][proxyflow.api.protocols.Publisher]
and [`Subscriber`][proxyflow.api.protocols.Subscriber] (and, for a durable
broker, [`AckingSubscriber`][proxyflow.api.protocols.AckingSubscriber]). A
**connector** adapts one storage system to
[`Connector`][proxyflow.api.protocols.Connector]. Plug-ins satisfy these
protocols structurally: they may import ``proxyflow.api`` for its errors and
helpers, and nothing else of proxyflow.

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

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, ClassVar, NamedTuple, Protocol, TypeAlias, runtime_checkable

__all__ = [
    "AckingSubscriber",
    "AsyncAckingSubscriber",
    "AsyncDelivery",
    "AsyncPublisher",
    "AsyncSubscriber",
    "AsyncWorkSharingPublisher",
    "AsyncWorkSharingSubscriber",
    "BytesLike",
    "Connector",
    "CountingConnector",
    "Delivery",
    "Key",
    "Message",
    "Publisher",
    "Roster",
    "Subscriber",
    "VectoredConnector",
    "WorkSharingPublisher",
    "WorkSharingSubscriber",
]

BytesLike: TypeAlias = bytes | bytearray | memoryview
"""Bytes a connector or shim accepts; memoryviews avoid copies of large objects."""

Message: TypeAlias = bytes | bytearray | memoryview
"""An opaque message; shims may hand out memoryviews to avoid copies."""

Key: TypeAlias = Any
"""A connector key: small and JSON-serializable (``str`` for the built-in connectors)."""


# -- brokers ----------------------------------------------------------------------------------


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


class Roster(NamedTuple):
    """The producers of one topic of a work-sharing broker, as the broker records them.

    Attributes:
        joined: Ids of the producers that announced the topic (``join``).
        left: Ids of the producers that finished it (``leave``), after their
            last message was accepted by the broker.
    """

    joined: frozenset[bytes]
    left: frozenset[bytes]

    @property
    def complete(self) -> bool:
        """Whether at least one producer joined and every producer that joined has left."""
        return bool(self.joined) and self.joined <= self.left


@runtime_checkable
class WorkSharingPublisher(Publisher, Protocol):
    """A publisher of a work-sharing broker (each message goes to one subscriber).

    On such a broker an end-of-stream message reaches only one of the
    subscribers, so the broker also keeps a [`Roster`][proxyflow.api.protocols.Roster]
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
class AsyncPublisher(Protocol):
    """The asyncio form of [`Publisher`][proxyflow.api.protocols.Publisher]."""

    async def send_message(self, topic: str, message: Message) -> None:
        """Send one message on ``topic`` (see `Publisher.send_message`)."""
        ...

    async def close(self) -> None:
        """Release the broker connection; idempotent."""
        ...


@runtime_checkable
class AsyncSubscriber(Protocol):
    """The asyncio form of [`Subscriber`][proxyflow.api.protocols.Subscriber]."""

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics this subscriber reads; empty if the broker does not say."""
        ...

    def __aiter__(self) -> AsyncIterator[Message]:
        """Iterate over incoming messages until the subscriber is closed."""
        ...

    async def next_message(self, timeout: float | None = None) -> Message:
        """Return the next message (see `Subscriber.next_message`)."""
        ...

    async def close(self) -> None:
        """Stop receiving and release the broker connection; idempotent."""
        ...


@runtime_checkable
class AsyncDelivery(Protocol):
    """The asyncio form of [`Delivery`][proxyflow.api.protocols.Delivery]."""

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

    async def ack(self) -> None:
        """Confirm the message was handled (see `Delivery.ack`)."""
        ...

    async def nack(self, delay: float | None = None) -> None:
        """Give the message back for redelivery (see `Delivery.nack`)."""
        ...

    async def reject(self) -> None:
        """Never deliver this message again (see `Delivery.reject`)."""
        ...


@runtime_checkable
class AsyncAckingSubscriber(AsyncSubscriber, Protocol):
    """The asyncio form of [`AckingSubscriber`][proxyflow.api.protocols.AckingSubscriber]."""

    async def next_delivery(self, timeout: float | None = None) -> AsyncDelivery:
        """Return the next delivery (see `AckingSubscriber.next_delivery`)."""
        ...


@runtime_checkable
class AsyncWorkSharingPublisher(AsyncPublisher, Protocol):
    """The asyncio form of a work-sharing publisher.

    See [`WorkSharingPublisher`][proxyflow.api.protocols.WorkSharingPublisher]:
    ``join`` and ``leave`` are coroutines.
    """

    async def join(self, topic: str, producer_id: bytes) -> None:
        """Record that ``producer_id`` publishes on ``topic`` (idempotent).

        See `WorkSharingPublisher.join`.
        """
        ...

    async def leave(self, topic: str, producer_id: bytes) -> None:
        """Record that ``producer_id`` sent its last message on ``topic`` (idempotent).

        Called once every message of the producer was accepted by the broker
        (see `WorkSharingPublisher.leave`).
        """
        ...


@runtime_checkable
class AsyncWorkSharingSubscriber(AsyncSubscriber, Protocol):
    """The asyncio form of a work-sharing subscriber.

    See [`WorkSharingSubscriber`][proxyflow.api.protocols.WorkSharingSubscriber]:
    ``roster`` is a coroutine.
    """

    async def roster(self, topic: str) -> Roster:
        """Return the producers that joined and left ``topic`` so far.

        See `WorkSharingSubscriber.roster`.
        """
        ...


# -- storage ----------------------------------------------------------------------------------


@runtime_checkable
class Connector(Protocol):
    """Moves opaque bytes in and out of one storage system.

    Guarantees every connector gives (the contract suite in
    ``proxyflow-testing`` checks them):

    * **Keys** are small, JSON-serializable values (a ``str`` for the built-in
      connectors) created by the connector. ``put`` never overwrites another key.
    * **Visibility**: once ``put`` returns, ``get`` from any process that can
      reach the same storage returns the full bytes; a reader never sees a
      partial object.
    * **Missing keys**: ``get`` returns ``None`` and ``evict`` is a no-op;
      neither raises.
    * **Eviction on read**: ``get(key, evict=True)`` returns the bytes and
      removes them, in one round trip where the backend allows it.
    * **Batches are all or nothing**: when ``put_batch`` raises, none of its
      objects is left stored.
    * **Errors** are the classes of
      [`proxyflow.api.exceptions`][proxyflow.api.exceptions] (store full,
      object too large, authentication, unreachable...), never a backend
      library's own.
    * **Thread-safety**: one instance may be used from several threads at once.
    * **close()** releases clients, sockets and file handles. It never deletes
      data that other processes may still read, unless the caller explicitly
      asked for that when creating the connector. Calling it twice is allowed.
    * **config()** returns a JSON-serializable ``dict`` of options from which
      ``from_config`` rebuilds an equivalent connector in another process. It
      holds no secrets (passwords, tokens) and no destructive flags.

    Attributes:
        kind: The registered name of this connector class in the
            ``proxyflow.connectors`` entry-point group (``"file"``, ``"redis"``...).
    """

    kind: ClassVar[str]

    def put(self, data: BytesLike) -> Key:
        """Store ``data`` under a new key and return the key."""
        ...

    def put_batch(self, datas: Sequence[BytesLike]) -> Sequence[Key]:
        """Store several objects, in one round trip where possible; keys in order.

        All or nothing: if it raises, no object of the batch stays stored.
        """
        ...

    def get(self, key: Key, *, evict: bool = False) -> BytesLike | None:
        """Return the bytes under ``key`` or ``None``; with ``evict`` also remove them."""
        ...

    def get_batch(self, keys: Sequence[Key], *, evict: bool = False) -> Sequence[BytesLike | None]:
        """Return the bytes of several keys (``None`` for missing ones), in order."""
        ...

    def exists(self, key: Key) -> bool:
        """Return whether ``key`` holds an object."""
        ...

    def evict(self, key: Key) -> None:
        """Remove the object under ``key``; a missing key is not an error."""
        ...

    def config(self) -> dict[str, Any]:
        """Return JSON-serializable options that describe this connector.

        [`from_config`][proxyflow.api.protocols.Connector.from_config] rebuilds it from them.
        """
        ...

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Connector:
        """Build a connector from its options.

        The options are the output of [`config`][proxyflow.api.protocols.Connector.config].
        """
        ...

    def close(self) -> None:
        """Release resources; never delete shared data unless asked at creation."""
        ...


@runtime_checkable
class CountingConnector(Connector, Protocol):
    """A connector that can say how much it holds (a seam for byte back-pressure).

    Optional: stores use it when a connector provides it.
    """

    def stats(self) -> dict[str, int]:
        """Return at least ``{"objects": n, "bytes": b}`` held by this connector's storage."""
        ...


@runtime_checkable
class VectoredConnector(Connector, Protocol):
    """A connector that stores an object given as several pieces, without joining them.

    Optional: a store with the default serializer hands large pickled objects
    (header, pickle stream, padding, out-of-band buffers such as a numpy
    array's memory) to [`put_parts`][proxyflow.api.protocols.VectoredConnector.put_parts]
    instead of first copying them into one buffer. The stored object is the
    concatenation of the pieces: ``get`` returns the same bytes as after
    ``put(b"".join(parts))``, with every guarantee of
    [`Connector.put`][proxyflow.api.protocols.Connector.put] (a new key,
    atomic visibility).

    Example:
        ```python
        if isinstance(connector, VectoredConnector):
            key = connector.put_parts([b"header", memoryview(array)])
        ```
    """

    def put_parts(self, parts: Sequence[BytesLike]) -> Key:
        """Store the concatenation of ``parts`` under a new key and return the key.

        The pieces may be views of memory the caller keeps using afterwards:
        they must be written (or copied) before this returns.
        """
        ...
