"""Evictions that fail after an acknowledgement are kept and tried again (sync and asyncio)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pfs_acking import AsyncMemorySubscriber, MemoryBroker

from proxyflow.api import BackendUnavailableError
from proxyflow.connectors.local import LocalConnector
from proxyflow.store import Store
from proxyflow.stream import AsyncStreamConsumer, StreamConsumer, StreamProducer
from proxyflow.stream._ack_types import Outcome as AckOutcome
from proxyflow.stream._ack_types import Verdict
from proxyflow.stream._acks import AckTracker
from proxyflow.stream._evictions import EVICT_RETRY_LIMIT
from proxyflow.stream._stats import ConsumerStats
from proxyflow.stream.events import decode_event


class EvictFailing(LocalConnector):
    """A local connector whose evictions fail while ``down`` is set (reads still work)."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.evict_calls = 0

    def evict(self, key: Any) -> None:
        self.evict_calls += 1
        if self.down:
            raise BackendUnavailableError("store unreachable (test)")
        super().evict(key)


@pytest.fixture
def connector() -> EvictFailing:
    return EvictFailing()


@pytest.fixture
def store(connector: EvictFailing) -> Iterator[Store]:
    s = Store(f"evict-retry-{uuid.uuid4().hex[:8]}", connector)
    yield s
    s.close()


def produce(broker: MemoryBroker, store: Store, count: int) -> list[Any]:
    """Send ``count`` objects (evicted on acknowledgement) and the end; return their keys."""
    producer = StreamProducer(broker, stores={"t": store})
    for i in range(count):
        producer.send("t", f"obj-{i}", evict=True)
    with broker._cond:
        messages = [m for _, m, _ in broker._ready]
    producer.close(stores=False)
    keys = [getattr(decode_event(m), "key", None) for m in messages]
    assert None not in keys
    return keys


def left(store: Store, keys: list[Any]) -> int:
    """How many of ``keys`` are still in ``store``."""
    return sum(1 for key in keys if store.exists(key))


def test_a_failed_eviction_is_retried_after_a_later_one_succeeds(
    store: Store, connector: EvictFailing
) -> None:
    broker = MemoryBroker()
    keys = produce(broker, store, 3)
    consumer = StreamConsumer(
        broker.subscriber("t"), store_overrides={store.name: store}, ack="manual", timeout=5
    )
    first = consumer.next_object()
    connector.down = True
    consumer.ack(first)  # the eviction fails: kept, not lost, not raised
    assert consumer.stats.evict_retries == 1
    assert consumer.stats.evict_failures == 0
    assert left(store, keys) == 3
    connector.down = False
    second = consumer.next_object()
    consumer.ack(second)  # evicts the second, then the first again
    assert left(store, keys) == 1
    consumer.ack(consumer.next_object())
    consumer.close(stores=False)
    assert left(store, keys) == 0
    assert consumer.stats.evict_failures == 0
    assert len(broker.acked) == 3


def test_close_retries_and_counts_what_is_still_left(store: Store, connector: EvictFailing) -> None:
    broker = MemoryBroker()
    keys = produce(broker, store, 2)
    consumer = StreamConsumer(
        broker.subscriber("t"), store_overrides={store.name: store}, ack="manual", timeout=5
    )
    connector.down = True
    consumer.ack(consumer.next_object())
    consumer.ack(consumer.next_object())
    assert consumer.stats.evict_retries == 2
    calls = connector.evict_calls
    consumer.close(stores=False)
    # One try at close for the store: it fails, so the other object is not asked for.
    assert connector.evict_calls == calls + 1
    assert consumer.stats.evict_failures == 2
    assert left(store, keys) == 2


def test_close_evicts_what_a_store_back_up_accepts(store: Store, connector: EvictFailing) -> None:
    broker = MemoryBroker()
    keys = produce(broker, store, 1)
    consumer = StreamConsumer(
        broker.subscriber("t"), store_overrides={store.name: store}, ack="manual", timeout=5
    )
    connector.down = True
    consumer.ack(consumer.next_object())
    connector.down = False
    consumer.close(stores=False)
    assert left(store, keys) == 0
    assert consumer.stats.evict_retries == 1
    assert consumer.stats.evict_failures == 0


def test_the_retry_list_is_bounded(store: Store, connector: EvictFailing) -> None:
    stats = ConsumerStats()
    tracker = AckTracker("manual", stats)
    connector.down = True
    extra = 3
    evictions = [(store, f"k{i}") for i in range(EVICT_RETRY_LIMIT + extra)]
    tracker.evict(Verdict(None, AckOutcome.ACK, None, evictions, []))
    assert stats.evict_retries == EVICT_RETRY_LIMIT
    assert stats.evict_failures == extra  # did not fit: counted as left at once
    tracker.close(AckOutcome.NACK)
    assert stats.evict_failures == EVICT_RETRY_LIMIT + extra


# -- asyncio ---------------------------------------------------------------------------------


def test_asyncio_consumer_retries_and_counts_at_close(
    store: Store, connector: EvictFailing
) -> None:
    broker = MemoryBroker()
    keys = produce(broker, store, 3)

    async def main() -> ConsumerStats:
        consumer = AsyncStreamConsumer(
            AsyncMemorySubscriber(broker.subscriber("t")),
            store_overrides={store.name: store},
            ack="manual",
            timeout=5,
        )
        first = await consumer.next_object()
        connector.down = True
        await consumer.ack(first)
        assert consumer.stats.evict_retries == 1
        assert left(store, keys) == 3
        connector.down = False
        await consumer.ack(await consumer.next_object())
        assert left(store, keys) == 1
        connector.down = True
        await consumer.ack(await consumer.next_object())
        await consumer.close(stores=False)
        return consumer.stats

    stats = asyncio.run(main())
    assert stats.evict_retries == 2
    assert stats.evict_failures == 1  # still failing at close: left, counted
    assert left(store, keys) == 1
