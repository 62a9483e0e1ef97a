"""The values that cross the broker seam: messages, work-sharing rosters and group backlogs.

Both the synchronous protocols ([`proxyflow.api.protocols`][proxyflow.api.protocols])
and their asyncio forms ([`proxyflow.api.async_protocols`][proxyflow.api.async_protocols])
exchange them; they live here so that neither protocol module imports the other.
"""

from __future__ import annotations

from typing import NamedTuple, TypeAlias

__all__ = ["GroupBacklog", "Message", "Roster"]

Message: TypeAlias = bytes | bytearray | memoryview
"""An opaque message; shims may hand out memoryviews to avoid copies."""


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


class GroupBacklog(NamedTuple):
    """What a work-sharing group has not finished of one topic, as the broker counts it.

    A [`DrainableSubscriber`][proxyflow.api.protocols.DrainableSubscriber]
    reports it for its own group (Redis Streams consumer group, JetStream
    durable consumer). A group has *drained* a topic when both counts are 0:
    every message in the topic was handed out to a member and acknowledged
    (or given up on: rejected, dead-lettered).

    Attributes:
        undelivered: Messages of the topic not yet handed out to any member of
            the group. A shim may count only up to a bound (it says so); it is
            never 0 while one is left.
        unacknowledged: Messages handed out to some member and not yet
            acknowledged: held by a member that is working on them, given back
            for redelivery (``nack``), or held by a member that died (the
            broker hands those out again after its visibility timeout).
    """

    undelivered: int
    unacknowledged: int

    @property
    def drained(self) -> bool:
        """Whether nothing is left: no message undelivered, none unacknowledged."""
        return self.undelivered == 0 and self.unacknowledged == 0
