"""What became of a delivery: the states an acknowledging shim records.

A shim's [`Delivery`][proxyflow.api.protocols.Delivery] (or
[`AsyncDelivery`][proxyflow.api.async_protocols.AsyncDelivery]) starts
[`PENDING`][proxyflow.api.outcomes.DeliveryOutcome.PENDING] and is settled
once: ``ack``, ``nack`` or ``reject``, or given back to the broker by its
subscriber's ``close()``. Every acknowledging shim records the same states
with the same rule for a delivery settled after its subscriber closed.

Example:
    >>> from proxyflow.api import DeliveryOutcome
    >>> DeliveryOutcome.PENDING.settled
    False
    >>> DeliveryOutcome.RELEASED.refuses(DeliveryOutcome.ACKED)
    True
    >>> DeliveryOutcome.RELEASED.refuses(DeliveryOutcome.NACKED)
    False
"""

from __future__ import annotations

import enum

__all__ = ["DeliveryOutcome"]


class DeliveryOutcome(enum.Enum):
    """What happened to a delivery handed out by an acknowledging subscriber."""

    PENDING = "pending"
    """Handed out and not settled yet."""
    ACKED = "acked"
    """Acknowledged: the broker forgets the message."""
    NACKED = "nacked"
    """Given back by the application, to be delivered again (or dead-lettered)."""
    REJECTED = "rejected"
    """Never to be delivered again; dead-lettered where the subscriber has a place for it."""
    RELEASED = "released"
    """Given back to the broker by ``close()`` of its subscriber, before it was settled."""

    @property
    def settled(self) -> bool:
        """Whether the delivery left ``PENDING`` (settled, or given back by ``close()``)."""
        return self is not DeliveryOutcome.PENDING

    def refuses(self, wanted: DeliveryOutcome) -> bool:
        """Whether a delivery in this state must report an error when settled as ``wanted``.

        Only a delivery given back by ``close()`` (``RELEASED``) refuses, and
        only ``ack`` and ``reject``: the broker delivers the message again, so
        neither can take effect, and the caller must know. A ``nack`` asks for
        what happens anyway and is quietly accepted; settling a delivery that
        is settled already does nothing in either case.

        Args:
            wanted: The outcome asked for (``ACKED``, ``NACKED`` or ``REJECTED``).
        """
        return self is DeliveryOutcome.RELEASED and wanted is not DeliveryOutcome.NACKED
