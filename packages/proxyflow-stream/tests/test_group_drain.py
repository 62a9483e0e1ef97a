"""A work-sharing consumer with acknowledgements ends only once its whole group has drained.

In-process pieces (`pfs_group.GroupBroker`): a member takes a delivery and
"dies" holding it; the producer leaves; the survivor must not end until the
broker hands the dead member's delivery out again (``expire()``, the
visibility timeout) and it was processed.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pfs_group import AsyncGroupMember, GroupBroker

from proxyflow.api import GroupBacklog, Roster
from proxyflow.connectors.local import LocalConnector
from proxyflow.store import Store
from proxyflow.stream import (
    AsyncStreamConsumer,
    ConsumerTimeoutError,
    StreamConsumer,
    StreamProducer,
)

COUNT = 4


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store(f"drain-test-{uuid.uuid4().hex[:8]}", LocalConnector())
    yield s
    s.close()


@pytest.fixture
def broker(store: Store) -> GroupBroker:
    """A group whose topic ``t`` holds ``COUNT`` objects; its producer has left."""
    group = GroupBroker()
    with StreamProducer(group, default_store=store) as producer:
        for i in range(COUNT):
            producer.send("t", i)
        producer.close(topics=["t"], stores=False)
    assert group.roster("t").complete
    return group


def member(broker: GroupBroker, store: Store, **options: Any) -> StreamConsumer[int]:
    options.setdefault("timeout", 5)
    drainable = options.pop("drainable", True)
    subscriber = broker.member("t", drainable=drainable)
    return StreamConsumer(subscriber, store_overrides={store.name: store}, **options)


def die_holding_one(broker: GroupBroker, store: Store) -> int:
    """A member takes one object and dies without settling it; return the object."""
    dead = member(broker, store, ack="manual")
    held: int = dead.next_object()
    assert len(broker.held) == 1
    return held


def expire_at(broker: GroupBroker, read: int) -> None:
    """Hand out again what the dead member held at the ``read``-th backlog read."""
    broker.on_backlog = lambda n: broker.expire() if n == read else None


def test_the_survivor_takes_over_what_a_dead_member_held(broker: GroupBroker, store: Store) -> None:
    lost = die_holding_one(broker, store)
    expire_at(broker, 2)  # the survivor has read a non-empty backlog once, and waited
    survivor = member(broker, store)
    got = list(survivor.iter_objects())
    assert sorted(got) == list(range(COUNT))  # the dead member's object included
    assert got[-1] == lost
    assert survivor.stats.redelivered == 1
    assert survivor.ended
    assert broker.held == []
    assert broker.backlog("t") == GroupBacklog(0, 0)
    assert broker.backlog_reads >= 4  # 1: held elsewhere; 2: expired; 3: drained (+ ours)


def test_manual_acks_drain_too(broker: GroupBroker, store: Store) -> None:
    lost = die_holding_one(broker, store)
    expire_at(broker, 2)
    survivor = member(broker, store, ack="manual")
    got = []
    for obj in survivor.iter_objects():
        got.append(obj)
        survivor.ack(obj)
    assert got[-1] == lost
    assert sorted(got) == list(range(COUNT))
    assert broker.held == []


def test_without_drain_group_the_end_is_today_s(broker: GroupBroker, store: Store) -> None:
    lost = die_holding_one(broker, store)
    survivor = member(broker, store, drain_group=False)
    got = list(survivor.iter_objects())
    assert lost not in got
    assert len(got) == COUNT - 1
    assert broker.backlog_reads == 0
    assert len(broker.held) == 1  # stranded: what drain_group=True prevents


def test_a_subscriber_without_backlog_ends_as_before(broker: GroupBroker, store: Store) -> None:
    lost = die_holding_one(broker, store)
    survivor = member(broker, store, drainable=False)
    assert lost not in list(survivor.iter_objects())
    assert survivor.ended


class _PlainMember:
    """A work-sharing subscriber with a backlog but no acknowledgements."""

    def __init__(self, broker: GroupBroker) -> None:
        self._inner = broker.member("t")
        self.topics = ("t",)

    def next_message(self, timeout: float | None = None) -> bytes:
        return self._inner.next_message(timeout)

    def roster(self, topic: str) -> Roster:
        return self._inner.roster(topic)

    def backlog(self, topic: str) -> GroupBacklog:
        return self._inner.backlog(topic)

    def close(self) -> None:
        self._inner.close()


def test_without_acknowledgements_the_backlog_is_never_read(
    broker: GroupBroker, store: Store
) -> None:
    consumer = StreamConsumer(_PlainMember(broker), timeout=5, store_overrides={store.name: store})
    assert not consumer.acknowledges
    assert sorted(consumer.iter_objects()) == list(range(COUNT))
    assert broker.backlog_reads == 0


def test_the_backlog_is_read_only_at_the_end_never_per_message(
    broker: GroupBroker, store: Store
) -> None:
    survivor = member(broker, store)
    reads = []
    for _ in survivor.iter_objects():
        reads.append(broker.backlog_reads)
    assert reads == [0] * COUNT
    assert broker.backlog_reads == 1  # one look at the end: already drained


def test_the_timeout_bounds_a_wait_without_progress(broker: GroupBroker, store: Store) -> None:
    lost = die_holding_one(broker, store)
    survivor = member(broker, store, timeout=0.3)
    assert sorted(survivor.next_object() for _ in range(COUNT - 1)) == [
        i for i in range(COUNT) if i != lost
    ]
    with pytest.raises(ConsumerTimeoutError, match=r"'t': 1 unacknowledged.*drain_group=False"):
        survivor.next_object()
    assert not survivor.ended  # still usable: the delivery comes back later
    broker.expire()
    assert survivor.next_object() == lost
    assert list(survivor.iter_objects()) == []
    assert survivor.ended


def test_a_consumer_closed_while_it_waits_for_the_group_ends(
    broker: GroupBroker, store: Store
) -> None:
    die_holding_one(broker, store)
    survivor = member(broker, store)
    closer = threading.Thread(target=survivor.close)  # another thread, as close() expects
    broker.on_backlog = lambda n: closer.start() if n == 2 else None
    assert len(list(survivor.iter_objects())) == COUNT - 1  # then closed while waiting
    closer.join(10)
    assert not closer.is_alive()
    assert "closed=True" in repr(survivor)


def test_the_asyncio_consumer_drains_the_group_the_same_way(
    broker: GroupBroker, store: Store
) -> None:
    lost = die_holding_one(broker, store)
    expire_at(broker, 2)

    async def survive() -> tuple[list[int], bool]:
        async with AsyncStreamConsumer[int](
            AsyncGroupMember(broker.member("t")),
            timeout=5,
            store_overrides={store.name: store},
        ) as survivor:
            got = [obj async for obj in survivor.iter_objects()]
            return got, survivor.ended

    got, ended = asyncio.run(survive())
    assert got[-1] == lost
    assert sorted(got) == list(range(COUNT))
    assert ended
    assert broker.held == []


@pytest.mark.parametrize("prefetch", [0, 2])
def test_prefetching_consumers_drain_the_group_too(
    broker: GroupBroker, store: Store, prefetch: int
) -> None:
    lost = die_holding_one(broker, store)
    expire_at(broker, 2)
    survivor = member(broker, store, prefetch=prefetch)
    got = list(survivor.iter_objects())  # resolving: served by the prefetch thread
    assert got[-1] == lost
    assert sorted(got) == list(range(COUNT))
    assert broker.held == []


def test_the_asyncio_prefetch_drains_the_group_too(broker: GroupBroker, store: Store) -> None:
    lost = die_holding_one(broker, store)
    expire_at(broker, 2)

    async def survive() -> list[int]:
        async with AsyncStreamConsumer[int](
            AsyncGroupMember(broker.member("t")),
            timeout=5,
            store_overrides={store.name: store},
            prefetch=2,
        ) as survivor:
            return [obj async for obj in survivor.iter_objects()]

    got = asyncio.run(survive())
    assert got[-1] == lost
    assert sorted(got) == list(range(COUNT))
    assert broker.held == []


def test_the_asyncio_consumer_without_drain_group_ends_as_before(
    broker: GroupBroker, store: Store
) -> None:
    lost = die_holding_one(broker, store)

    async def survive() -> list[int]:
        async with AsyncStreamConsumer[int](
            AsyncGroupMember(broker.member("t")),
            timeout=5,
            store_overrides={store.name: store},
            drain_group=False,
        ) as survivor:
            return [obj async for obj in survivor.iter_objects()]

    assert lost not in asyncio.run(survive())
    assert broker.backlog_reads == 0
