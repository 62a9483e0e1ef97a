"""Deliveries of the Redis Streams subscribers: one message, settled once.

[`RedisStreamDelivery`][proxyflow.shims.redis.stream_delivery.RedisStreamDelivery]
satisfies ``proxyflow.api.Delivery`` and
[`AsyncRedisStreamDelivery`][proxyflow.shims.redis.stream_delivery.AsyncRedisStreamDelivery]
``proxyflow.api.AsyncDelivery``. Settling means, on the server:

* ``ack()``: ``XACK``; the group never hands the entry out again.
* ``nack(delay)``: the entry's idle time is set so that it becomes
  reclaimable ``delay`` seconds from now (``XCLAIM ... IDLE``); on its
  ``max_deliveries``-th delivery it goes to the dead letters instead.
* ``reject()``: copied to the dead-letter stream with its metadata, then
  ``XACK`` (dropped, with a warning, when there is no dead-letter topic).

``nack`` and ``reject`` act only if this subscriber still holds the entry: if
the visibility timeout expired and another subscriber reclaimed it, they do
nothing (that subscriber has it now). ``ack`` always acknowledges.
"""

from __future__ import annotations

from typing import Protocol

from proxyflow.api import DeliveryOutcome
from proxyflow.shims.redis._streams_state import DeliveryState, Entry

__all__ = ["AsyncRedisStreamDelivery", "RedisStreamDelivery"]


class _Settler(Protocol):
    def _settle(
        self, delivery: DeliveryState, outcome: DeliveryOutcome, delay: float | None
    ) -> None: ...


class _AsyncSettler(Protocol):
    async def _settle(
        self, delivery: DeliveryState, outcome: DeliveryOutcome, delay: float | None
    ) -> None: ...


class RedisStreamDelivery(DeliveryState):
    """A message from a ``RedisStreamSubscriber``, to be settled once, from any thread.

    Satisfies ``proxyflow.api.Delivery``. Besides the protocol's members it
    shows the entry's ``entry_id`` and all its ``fields`` (dead letters carry
    their metadata there). A delivery whose subscriber was closed before it was
    settled was given back to the group: ``ack`` and ``reject`` then raise
    [`DeliveryReleasedError`][proxyflow.shims.redis.exceptions.DeliveryReleasedError]
    and ``nack`` does nothing.
    """

    __slots__ = ("_owner",)

    def __init__(self, entry: Entry, owner: _Settler) -> None:
        super().__init__(entry)
        self._owner = owner

    def ack(self) -> None:
        """Confirm the message was handled: the group never hands it out again.

        Raises:
            DeliveryReleasedError: if the subscriber was closed first.
            BrokerConnectionError: if Redis cannot be reached; the message will
                be delivered again.
        """
        self._owner._settle(self, DeliveryOutcome.ACKED, None)

    def nack(self, delay: float | None = None) -> None:
        """Give the message back, to be delivered again after ``delay`` seconds (``None``: soon).

        On its ``max_deliveries``-th delivery the message goes to the dead
        letters instead.

        Raises:
            ValueError: if ``delay`` is negative or longer than the visibility timeout.
        """
        self._owner._settle(self, DeliveryOutcome.NACKED, delay)

    def reject(self) -> None:
        """Never deliver this message again; it goes to the dead-letter stream, if any."""
        self._owner._settle(self, DeliveryOutcome.REJECTED, None)


class AsyncRedisStreamDelivery(DeliveryState):
    """A message from an ``AsyncRedisStreamSubscriber`` (``proxyflow.api.AsyncDelivery``).

    The asyncio form of
    [`RedisStreamDelivery`][proxyflow.shims.redis.stream_delivery.RedisStreamDelivery],
    with the same meaning; settle it on the event loop of its subscriber.
    """

    __slots__ = ("_owner",)

    def __init__(self, entry: Entry, owner: _AsyncSettler) -> None:
        super().__init__(entry)
        self._owner = owner

    async def ack(self) -> None:
        """Confirm the message was handled (see `RedisStreamDelivery.ack`)."""
        await self._owner._settle(self, DeliveryOutcome.ACKED, None)

    async def nack(self, delay: float | None = None) -> None:
        """Give the message back for redelivery (see `RedisStreamDelivery.nack`)."""
        await self._owner._settle(self, DeliveryOutcome.NACKED, delay)

    async def reject(self) -> None:
        """Never deliver this message again (see `RedisStreamDelivery.reject`)."""
        await self._owner._settle(self, DeliveryOutcome.REJECTED, None)
