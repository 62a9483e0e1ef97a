"""The asyncio forms of the broker protocols.

They mirror [`proxyflow.api.protocols`][proxyflow.api.protocols] method for
method, with coroutines, and promise the same guarantees (ordering, blocking,
loss, what ``close`` does). All of them are also importable from
``proxyflow.api`` and ``proxyflow.api.protocols``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from proxyflow.api.broker_types import GroupBacklog, Message, Roster

__all__ = [
    "AsyncAckingSubscriber",
    "AsyncDelivery",
    "AsyncDrainableSubscriber",
    "AsyncPublisher",
    "AsyncSubscriber",
    "AsyncWorkSharingPublisher",
    "AsyncWorkSharingSubscriber",
]


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


@runtime_checkable
class AsyncDrainableSubscriber(AsyncSubscriber, Protocol):
    """The asyncio form of [`DrainableSubscriber`][proxyflow.api.protocols.DrainableSubscriber].

    ``backlog`` is a coroutine.
    """

    async def backlog(self, topic: str) -> GroupBacklog:
        """Return what this subscriber's group has not finished of ``topic``.

        See `DrainableSubscriber.backlog`.
        """
        ...
