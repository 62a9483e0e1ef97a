"""``AsyncJetStreamDelivery``: one message handed out by a JetStream subscriber."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from nats.aio.msg import Msg
from proxyflow.api import DeliveryOutcome

__all__ = ["AsyncJetStreamDelivery", "Outcome", "Settler"]


Outcome = DeliveryOutcome
"""What happened to a delivery: ``proxyflow.api.DeliveryOutcome``, under this module's old name."""


class Settler(Protocol):
    """The subscriber side of settling (implemented by the subscriber)."""

    async def settle(
        self, delivery: AsyncJetStreamDelivery, outcome: DeliveryOutcome, delay: float | None
    ) -> None:
        """Send the outcome to the server."""
        ...


class AsyncJetStreamDelivery:
    """A message from an ``AsyncJetStreamSubscriber``, to be settled once.

    Satisfies ``proxyflow.api.AsyncDelivery``:
    [`ack`][proxyflow.shims.nats.delivery.AsyncJetStreamDelivery.ack] (JetStream
    ``+ACK``), [`nack`][proxyflow.shims.nats.delivery.AsyncJetStreamDelivery.nack]
    (``-NAK`` with an optional delay) and
    [`reject`][proxyflow.shims.nats.delivery.AsyncJetStreamDelivery.reject]
    (``+TERM``, after a copy went to the dead-letter topic if there is one).
    Settling a settled delivery does nothing; a delivery whose subscriber was
    closed before it was settled has been given back to the server, and
    ``ack``/``reject`` then raise
    [`DeliveryReleasedError`][proxyflow.shims.nats.exceptions.DeliveryReleasedError].
    """

    __slots__ = ("_msg", "_settler", "_topic", "outcome")

    def __init__(self, msg: Msg, topic: str, settler: Settler) -> None:
        self._msg = msg
        self._topic = topic
        self._settler = settler
        self.outcome = DeliveryOutcome.PENDING

    @property
    def message(self) -> bytes:
        """The message."""
        return self._msg.data

    @property
    def topic(self) -> str:
        """The topic the message arrived on."""
        return self._topic

    @property
    def delivery_count(self) -> int:
        """How many times the server has handed this message out: 1 the first time."""
        return self._msg.metadata.num_delivered

    @property
    def stream_sequence(self) -> int:
        """The message's sequence number in the stream (stable across redeliveries)."""
        return self._msg.metadata.sequence.stream

    @property
    def headers(self) -> Mapping[str, str]:
        """The message's NATS headers (dead letters carry ``Proxyflow-*`` ones)."""
        return dict(self._msg.headers or {})

    @property
    def settled(self) -> bool:
        """Whether ``ack``, ``nack`` or ``reject`` was called (or ``close`` gave it back)."""
        return self.outcome.settled

    @property
    def raw(self) -> Msg:
        """The nats-py message (its ``reply`` subject is the acknowledgement subject)."""
        return self._msg

    async def ack(self) -> None:
        """Confirm the message was handled; with ``confirm_acks`` wait for the server's answer.

        Raises:
            DeliveryReleasedError: if the subscriber was closed first.
            BrokerTimeoutError: if the server did not confirm in time; the
                message may be delivered again.
        """
        await self._settler.settle(self, DeliveryOutcome.ACKED, None)

    async def nack(self, delay: float | None = None) -> None:
        """Give the message back, to be delivered again after ``delay`` seconds (``None``: soon).

        On its last allowed delivery (``max_deliver``) the message goes to the
        dead-letter topic instead, if the subscriber has one.
        """
        await self._settler.settle(self, DeliveryOutcome.NACKED, delay)

    async def reject(self) -> None:
        """Never deliver this message again; it goes to the dead-letter topic, if any."""
        await self._settler.settle(self, DeliveryOutcome.REJECTED, None)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(topic={self._topic!r}, delivery_count={self.delivery_count}, "
            f"{self.outcome.value})"
        )
