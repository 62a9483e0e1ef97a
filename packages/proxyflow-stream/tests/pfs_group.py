"""An in-process work-sharing group with a roster and a backlog, for the group-drain tests.

`GroupBroker` is the acknowledging `MemoryBroker` of ``pfs_acking`` plus what a
Redis Streams group or a JetStream durable also tells: the producers' roster
(``join``/``leave``/``roster``) and the group's backlog (``backlog``: messages
waiting, messages held). ``expire()`` plays the visibility timeout (what a dead
member held comes back). ``on_backlog`` runs at each backlog read (the
``n``-th read, 1-based), so a test acts at a known point of the consumer's wait
instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable

from pfs_acking import AsyncMemorySubscriber, MemoryAckingSubscriber, MemoryBroker

from proxyflow.api import GroupBacklog, Roster


class GroupBroker(MemoryBroker):
    """A work-sharing acknowledging broker with a roster and a backlog."""

    def __init__(self) -> None:
        super().__init__()
        self.joined: set[bytes] = set()
        self.left: set[bytes] = set()
        self.backlog_reads = 0
        self.on_backlog: Callable[[int], None] | None = None

    def join(self, topic: str, producer_id: bytes) -> None:
        self.joined.add(bytes(producer_id))

    def leave(self, topic: str, producer_id: bytes) -> None:
        self.left.add(bytes(producer_id))

    def roster(self, topic: str) -> Roster:
        return Roster(frozenset(self.joined), frozenset(self.left))

    def backlog(self, topic: str) -> GroupBacklog:
        self.backlog_reads += 1
        if self.on_backlog is not None:
            self.on_backlog(self.backlog_reads)
        with self._cond:
            waiting = sum(1 for t, _, _ in self._ready if t == topic)
            held = sum(1 for d in self.held if d.topic == topic)
        return GroupBacklog(waiting, held)

    def member(self, *topics: str, drainable: bool = True) -> GroupMember:
        """A subscriber of the group (without ``backlog`` unless ``drainable``)."""
        return GroupMember(self, topics) if drainable else RosterOnlyMember(self, topics)


class RosterOnlyMember(MemoryAckingSubscriber):
    """A work-sharing acknowledging subscriber that cannot tell the group's backlog."""

    def __init__(self, broker: GroupBroker, topics: tuple[str, ...]) -> None:
        super().__init__(broker, topics)
        self.group = broker

    def roster(self, topic: str) -> Roster:
        return self.group.roster(topic)


class GroupMember(RosterOnlyMember):
    """A subscriber of the group that reports its backlog (``DrainableSubscriber``)."""

    def backlog(self, topic: str) -> GroupBacklog:
        return self.group.backlog(topic)


class AsyncGroupMember(AsyncMemorySubscriber):
    """The asyncio face of a `GroupMember` (its waits run in a thread)."""

    inner: GroupMember

    def __init__(self, inner: GroupMember) -> None:
        super().__init__(inner)

    async def roster(self, topic: str) -> Roster:
        return self.inner.roster(topic)

    async def backlog(self, topic: str) -> GroupBacklog:
        return self.inner.backlog(topic)
