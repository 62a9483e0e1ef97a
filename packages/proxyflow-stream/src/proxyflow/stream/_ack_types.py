"""The named types of acknowledgement: modes, outcomes, deliveries and tickets.

[`AckTracker`][proxyflow.stream._acks.AckTracker] keeps its books in these;
the asyncio tracker and the consumers' readers pass them around.
"""

from __future__ import annotations

import enum
from typing import Any, Literal, NamedTuple, TypeAlias

from proxyflow.api import Delivery
from proxyflow.store import Store

__all__ = ["AckMode", "Delivered", "Mark", "Outcome", "Ticket", "Verdict"]

AckMode: TypeAlias = Literal["auto", "manual"]
"""When a consumer acknowledges: when the next item is asked for, or when told."""

Mark: TypeAlias = tuple[bytes, str, int]
"""An item's producer id, topic and sequence number: how a redelivery is recognised."""


class Outcome(enum.Enum):
    """How one item was settled."""

    ACK = "ack"
    NACK = "nack"
    REJECT = "reject"


class Verdict(NamedTuple):
    """How one delivery ended, once all its items are settled.

    Attributes:
        delivery: The broker delivery to settle.
        outcome: ``ACK``, ``NACK`` or ``REJECT``.
        delay: Seconds before the redelivery (``NACK``; ``None``: soon).
        evictions: ``(store, key)`` of the acknowledged objects to evict
            after an ``ACK`` or a ``REJECT``.
        marks: The items' (producer id, topic, sequence number).
    """

    delivery: Any
    outcome: Outcome
    delay: float | None
    evictions: list[tuple[Store, Any]]
    marks: list[Mark]


class Delivered:
    """One broker delivery and the state of its items."""

    __slots__ = ("delay", "delivery", "done", "evictions", "marks", "nacked", "open", "rejected")

    def __init__(self, delivery: Delivery, marks: list[Mark]) -> None:
        self.delivery = delivery
        self.marks = marks
        count = len(marks)
        self.open = count
        self.nacked = False
        self.rejected = False
        self.delay: float | None = None
        self.evictions: list[tuple[Store, Any]] = []
        self.done = False


class Ticket:
    """One item of a delivery, from the moment the consumer takes it until it is settled.

    Attributes:
        delivered: The delivery it belongs to.
        store: Its store (``None`` for an inline object).
        key: Its key in the store (``None`` for an inline object).
        evict: Whether its event asked for eviction (done on acknowledgement).
        settled: Whether it was settled.
    """

    __slots__ = ("delivered", "evict", "key", "settled", "store")

    def __init__(self, delivered: Delivered, store: Store | None, key: Any, evict: bool) -> None:
        self.delivered = delivered
        self.store = store
        self.key = key
        self.evict = evict
        self.settled = False

    @property
    def delivery_count(self) -> int:
        """How many times the broker has handed out this item's message."""
        return self.delivered.delivery.delivery_count
