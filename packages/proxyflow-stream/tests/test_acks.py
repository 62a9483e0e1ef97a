"""Acknowledgements of StreamConsumer over an in-process acknowledging broker (pfs_acking)."""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from pfs_acking import MemoryBroker

from proxyflow.api import BackendUnavailableError
from proxyflow.connectors.local import LocalConnector
from proxyflow.shims.queue import QueueSubscriber
from proxyflow.store import Store
from proxyflow.stream import (
    AcknowledgementsUnavailableError,
    ConsumerClosedError,
    EventDecodeError,
    ItemNotHeldError,
    StreamConsumer,
    StreamObjectMissingError,
    StreamProducer,
)
from proxyflow.stream.events import decode_event
from proxyflow.stream.filters import KeyEquals


class FlakyConnector(LocalConnector):
    """A local connector whose reads fail while ``down`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def get(self, key: Any, *, evict: bool = False) -> Any:
        if self.down:
            raise BackendUnavailableError("store unreachable (test)")
        return super().get(key, evict=evict)

    def get_batch(self, keys: Sequence[Any], *, evict: bool = False) -> list[Any]:
        if self.down:
            raise BackendUnavailableError("store unreachable (test)")
        return super().get_batch(keys, evict=evict)


@pytest.fixture
def broker() -> MemoryBroker:
    return MemoryBroker()


@pytest.fixture
def flaky() -> FlakyConnector:
    return FlakyConnector()


@pytest.fixture
def store(flaky: FlakyConnector) -> Iterator[Store]:
    s = Store(f"ack-test-{uuid.uuid4().hex[:8]}", flaky)
    yield s
    s.close()


def produce(
    broker: MemoryBroker,
    store: Store,
    objs: Sequence[Any],
    *,
    batch_size: int = 1,
    evict: bool = True,
    inline: bool = False,
    end: bool = True,
) -> list[Any]:
    """Send ``objs`` on topic t (and its end); return the keys of stored objects."""
    stores: dict[str, Store | None] = {"t": None if inline else store}
    producer = StreamProducer(broker, stores=stores, batch_size=batch_size)
    for i, obj in enumerate(objs):
        producer.send("t", obj, evict=evict, metadata={"i": i})
    producer.flush()
    keys = []
    with broker._cond:
        messages = [m for _, m, _ in broker._ready]
    for message in messages:
        event = decode_event(message)
        keys.extend(getattr(event, "keys", None) or [getattr(event, "key", None)])
    if end:
        producer.close(topics=["t"], stores=False)
    return [k for k in keys if k is not None]


def consumer_for(broker: MemoryBroker, store: Store, **options: Any) -> StreamConsumer[Any]:
    options.setdefault("timeout", 5)
    return StreamConsumer(broker.subscriber("t"), store_overrides={store.name: store}, **options)


def test_manual_ack_acknowledges_and_evicts_then(broker: MemoryBroker, store: Store) -> None:
    keys = produce(broker, store, ["a", "b"])
    consumer = consumer_for(broker, store, ack="manual")
    assert consumer.acknowledges
    assert consumer.ack_mode == "manual"
    proxy = consumer.next()
    assert proxy == "a"  # resolved: not evicted, the delivery is not settled
    assert store.exists(keys[0])
    assert broker.acked == []
    consumer.ack(proxy)
    assert not store.exists(keys[0])
    assert len(broker.acked) == 1
    assert consumer.stats.acked == 1
    obj = consumer.next_object()
    assert obj == "b"
    assert store.exists(keys[1])
    consumer.nack(obj)
    assert store.exists(keys[1])  # given back: its object stays for the redelivery
    again = consumer.next_object()
    assert again == "b"
    assert consumer.delivery_count(again) == 2
    assert consumer.stats.redelivered == 1
    consumer.ack(again)
    assert not store.exists(keys[1])
    with pytest.raises(StopIteration):
        consumer.next()
    assert consumer.stats.acked == 3  # two objects and the end of stream
    assert broker.held == []
    assert broker.waiting == 0
    consumer.close()


def test_auto_ack_acknowledges_the_previous_item_on_next(
    broker: MemoryBroker, store: Store
) -> None:
    keys = produce(broker, store, [0, 1, 2])
    consumer = consumer_for(broker, store)
    assert consumer.ack_mode == "auto"
    seen = []
    for proxy in consumer:
        seen.append(int(proxy))
        assert len(broker.acked) == len(seen) - 1  # this one is not acknowledged yet
        assert store.exists(keys[len(seen) - 1])
    assert seen == [0, 1, 2]
    assert len(broker.acked) == 4  # three objects and the end of stream
    assert not any(store.exists(k) for k in keys)
    consumer.close()


def test_auto_ack_close_acknowledges_the_last_item(broker: MemoryBroker, store: Store) -> None:
    keys = produce(broker, store, [0, 1], end=False)
    consumer = consumer_for(broker, store)
    assert consumer.next_object() == 0
    consumer.close()
    assert len(broker.acked) == 1
    assert not store.exists(keys[0])
    assert store.exists(keys[1])
    assert broker.waiting == 1


def test_auto_ack_with_block_failing_gives_the_item_back(
    broker: MemoryBroker, store: Store
) -> None:
    keys = produce(broker, store, [0])
    consumer = consumer_for(broker, store)

    def loop_body_fails() -> None:
        with consumer:
            assert consumer.next_object() == 0
            raise RuntimeError("the loop body failed")

    with pytest.raises(RuntimeError):
        loop_body_fails()
    assert broker.acked == []
    assert len(broker.nacked) == 1
    assert store.exists(keys[0])


def test_manual_close_gives_back_unsettled_and_read_ahead(
    broker: MemoryBroker, store: Store
) -> None:
    keys = produce(broker, store, list(range(6)), end=False)
    consumer = consumer_for(broker, store, ack="manual", prefetch=4)
    first = consumer.next_object()
    assert first == 0
    consumer.close()
    assert broker.acked == []
    assert broker.held == []
    assert broker.waiting == 6  # everything given back, nothing lost
    assert all(store.exists(k) for k in keys)  # prefetch read ahead without evicting
    with pytest.raises(ItemNotHeldError):
        consumer.ack(first)


def test_prefetch_with_acks_evicts_only_acknowledged(broker: MemoryBroker, store: Store) -> None:
    keys = produce(broker, store, list(range(8)))
    consumer = consumer_for(broker, store, ack="manual", prefetch=4)
    got = [consumer.next_object() for _ in range(8)]
    assert got == list(range(8))
    assert all(store.exists(k) for k in keys)
    for obj in got[:5]:
        consumer.ack(obj)
    assert [store.exists(k) for k in keys] == [False] * 5 + [True] * 3
    for obj in got[5:]:
        consumer.ack(obj)
    assert list(consumer.iter_objects()) == []
    assert not any(store.exists(k) for k in keys)
    consumer.close()


def test_crash_after_resolving_leaves_the_object_for_the_redelivery(
    broker: MemoryBroker, store: Store
) -> None:
    keys = produce(broker, store, ["result"])
    crashed = consumer_for(broker, store, ack="manual")
    assert crashed.next_object() == "result"  # then the process dies: nothing is settled
    assert broker.expire() == 1  # the visibility timeout passes
    survivor = consumer_for(broker, store, ack="manual")
    again = survivor.next_object()
    assert again == "result"
    assert survivor.stats.redelivered == 1
    survivor.ack(again)
    assert not store.exists(keys[0])
    assert list(survivor.iter_objects()) == []
    survivor.close()


@pytest.mark.parametrize("prefetch", [0, 3])
def test_store_failure_gives_the_delivery_back(
    broker: MemoryBroker, store: Store, flaky: FlakyConnector, prefetch: int
) -> None:
    keys = produce(broker, store, ["x", "y"])
    consumer = consumer_for(broker, store, ack="manual", prefetch=prefetch)
    flaky.down = True
    with pytest.raises(BackendUnavailableError):
        consumer.next_object()
    assert broker.nacked
    assert consumer.stats.nacked >= 1
    assert broker.dead == []
    flaky.down = False
    got, late_errors = [], 0
    for _ in range(6):  # errors already read ahead are raised in their turn
        try:
            obj = consumer.next_object()
        except BackendUnavailableError:
            late_errors += 1
            continue
        except StopIteration:
            break
        got.append(obj)
        consumer.ack(obj)
    assert late_errors <= (1 if prefetch else 0)
    assert sorted(got) == ["x", "y"]
    assert consumer.stats.redelivered >= 1
    assert not any(store.exists(k) for k in keys)
    consumer.close()


def test_missing_object_is_rejected(broker: MemoryBroker, store: Store) -> None:
    keys = produce(broker, store, ["gone"])
    store.evict(keys[0])
    consumer = consumer_for(broker, store, ack="manual")
    with pytest.raises(StreamObjectMissingError):
        consumer.next_object()
    assert len(broker.dead) == 1
    assert consumer.stats.rejected == 1
    consumer.close()


def test_bad_message_is_rejected(broker: MemoryBroker, store: Store) -> None:
    broker.send_message("t", b"not an event")
    consumer = consumer_for(broker, store, ack="manual")
    with pytest.raises(EventDecodeError):
        consumer.next()
    assert broker.dead == [b"not an event"]
    consumer.close()


def test_filtered_items_are_acknowledged_and_evicted_at_once(
    broker: MemoryBroker, store: Store
) -> None:
    keys = produce(broker, store, [0, 1, 2, 3])
    consumer = consumer_for(broker, store, ack="manual", keep=KeyEquals("i", 2))
    obj = consumer.next_object()
    assert obj == 2
    assert consumer.stats.filtered == 2
    assert len(broker.acked) == 2
    assert [store.exists(k) for k in keys] == [False, False, True, True]
    consumer.ack(obj)
    assert list(consumer.iter_objects()) == []  # 3 dropped, then the end
    assert not any(store.exists(k) for k in keys)
    consumer.close()


def test_batch_is_acknowledged_when_all_its_items_are(broker: MemoryBroker, store: Store) -> None:
    keys = produce(broker, store, [0, 1, 2], batch_size=3)
    consumer = consumer_for(broker, store, ack="manual")
    items = [consumer.next() for _ in range(3)]
    consumer.ack(items[0])
    consumer.ack(items[2])
    assert broker.acked == []
    assert all(store.exists(k) for k in keys)
    consumer.ack(items[1])
    assert len(broker.acked) == 1
    assert not any(store.exists(k) for k in keys)
    consumer.close()


def test_batch_with_one_nack_is_redelivered_whole(broker: MemoryBroker, store: Store) -> None:
    keys = produce(broker, store, [0, 1, 2], batch_size=3)
    consumer = consumer_for(broker, store, ack="manual")
    items = [consumer.next_object() for _ in range(3)]
    consumer.ack(items[0])
    consumer.nack(items[1], delay=0.5)
    consumer.ack(items[2])
    assert broker.nacked
    assert broker.nacked[0][1] == 0.5
    assert all(store.exists(k) for k in keys)  # at-least-once: the batch comes again
    again = [consumer.next_object() for _ in range(3)]
    assert again == [0, 1, 2]
    assert consumer.stats.redelivered == 1
    for obj in again:
        consumer.ack(obj)
    assert not any(store.exists(k) for k in keys)
    consumer.close()


def test_reject_dead_letters_and_keeps_the_object(broker: MemoryBroker, store: Store) -> None:
    keys = produce(broker, store, ["poison"])
    consumer = consumer_for(broker, store, ack="manual")
    item = consumer.next()
    consumer.reject(item)
    assert len(broker.dead) == 1
    assert store.exists(keys[0])  # the dead-lettered event still resolves
    consumer.close()


def test_items_are_settled_once_and_by_identity(broker: MemoryBroker, store: Store) -> None:
    produce(broker, store, [7, 7], inline=True)
    consumer = consumer_for(broker, store, ack="manual")
    first, second = consumer.next(), consumer.next()
    assert first == second == 7
    with pytest.raises(ItemNotHeldError, match="very proxy or object"):
        consumer.ack(8)
    with pytest.raises(ValueError, match="delay"):
        consumer.nack(first, delay=-1)  # refused before anything is settled
    consumer.ack(first)
    consumer.ack(second)  # the same small int: settled in the order handed out
    assert len(broker.acked) == 2
    with pytest.raises(ItemNotHeldError):
        consumer.ack(first)
    assert isinstance(ItemNotHeldError(1), LookupError)
    consumer.close()


def test_redelivery_recognised_by_sequence_number(broker: MemoryBroker, store: Store) -> None:
    produce(broker, store, ["once"], inline=True, end=False)
    with broker._cond:
        message = broker._ready[0][1]
    broker.send_message("t", message)  # a duplicate the broker counts as new
    consumer = consumer_for(broker, store)
    assert consumer.next() == "once"
    assert consumer.next() == "once"
    assert consumer.stats.redelivered == 1
    consumer.close()


def test_failed_ack_raises_and_keeps_the_object(broker: MemoryBroker, store: Store) -> None:
    keys = produce(broker, store, ["x"])
    consumer = consumer_for(broker, store, ack="manual")
    obj = consumer.next_object()
    broker.fail_acks = True
    with pytest.raises(ConnectionError):
        consumer.ack(obj)
    assert store.exists(keys[0])  # the message will come again: its object must be there
    broker.fail_acks = False
    consumer.close()


def test_settling_from_another_thread_while_next_waits(broker: MemoryBroker, store: Store) -> None:
    produce(broker, store, ["x"], end=False)
    consumer = consumer_for(broker, store, ack="manual", timeout=None)
    obj = consumer.next_object()
    results: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def wait_next() -> None:
        try:
            results.put(consumer.next())
        except BaseException as exc:
            results.put(exc)

    reader = threading.Thread(target=wait_next)
    reader.start()
    consumer.ack(obj)  # does not wait for the reader's lock
    assert len(broker.acked) == 1
    consumer.close()
    reader.join(5)
    assert not reader.is_alive()
    outcome = results.get(timeout=5)
    assert isinstance(outcome, (StopIteration, ConsumerClosedError))


def test_plain_subscriber_has_no_acknowledgements(store: Store) -> None:
    q: queue.Queue[Any] = queue.Queue()
    with pytest.raises(AcknowledgementsUnavailableError, match="next_delivery"):
        StreamConsumer(QueueSubscriber(q, topics=["t"]), ack="manual")
    consumer = StreamConsumer(QueueSubscriber(q, topics=["t"]))
    assert not consumer.acknowledges
    with pytest.raises(AcknowledgementsUnavailableError, match="at-most-once"):
        consumer.ack("x")
    with pytest.raises(AcknowledgementsUnavailableError):
        consumer.nack("x")
    assert isinstance(AcknowledgementsUnavailableError("x"), TypeError)
    with pytest.raises(ValueError, match="ack must be"):
        StreamConsumer(QueueSubscriber(q, topics=["t"]), ack="sometimes")  # type: ignore[arg-type]
    consumer.close()


def test_end_waits_until_every_item_read_is_settled(broker: MemoryBroker, store: Store) -> None:
    produce(broker, store, ["x"])
    consumer = consumer_for(broker, store, ack="manual", timeout=0.3)
    obj = consumer.next_object()
    assert not consumer.ended
    with pytest.raises(TimeoutError, match="settle every item"):
        consumer.next()  # x may still be given back: the stream has not ended yet
    consumer.nack(obj)
    again = consumer.next_object()  # the end of stream was read, and x comes again
    assert again == "x"
    consumer.ack(again)
    with pytest.raises(StopIteration):
        consumer.next()
    assert consumer.ended
    consumer.close()


def test_end_waits_for_an_item_given_back_from_another_thread(
    broker: MemoryBroker, store: Store
) -> None:
    produce(broker, store, ["x"])
    consumer = consumer_for(broker, store, ack="manual", timeout=None)
    obj = consumer.next()
    got: queue.SimpleQueue[Any] = queue.SimpleQueue()
    reader = threading.Thread(target=lambda: got.put(consumer.next_object()))
    reader.start()  # waits at the end: obj is not settled
    consumer.nack(obj)  # a worker failed: the reader gets it again
    assert got.get(timeout=5) == "x"
    reader.join(5)
    consumer.close()


def test_close_ends_a_next_waiting_for_unsettled_items(broker: MemoryBroker, store: Store) -> None:
    produce(broker, store, ["x"])
    consumer = consumer_for(broker, store, ack="manual", timeout=None)
    consumer.next()
    outcome: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def wait_end() -> None:
        try:
            outcome.put(consumer.next())
        except BaseException as exc:
            outcome.put(exc)

    reader = threading.Thread(target=wait_end)
    reader.start()
    consumer.close()  # gives x back; the waiting call ends the stream
    assert isinstance(outcome.get(timeout=5), (StopIteration, ConsumerClosedError))
    reader.join(5)
    assert not reader.is_alive()
    assert len(broker.nacked) == 1


def test_auto_ack_is_per_thread(broker: MemoryBroker, store: Store) -> None:
    keys = produce(broker, store, [0, 1, 2, 3])
    consumer = consumer_for(broker, store)
    first = consumer.next_object()
    got: queue.SimpleQueue[Any] = queue.SimpleQueue()
    other = threading.Thread(target=lambda: got.put(consumer.next_object()))
    other.start()
    other.join(5)
    second = got.get(timeout=5)
    assert (first, second) == (0, 1)
    assert broker.acked == []  # neither thread asked for its next item yet
    assert consumer.next_object() == 2  # this thread's previous item (0) is acknowledged
    assert len(broker.acked) == 1
    assert not store.exists(keys[0])
    assert store.exists(keys[1])  # still held by the other thread
    consumer.close()  # acknowledges what each thread holds
    assert len(broker.acked) == 3
    assert [store.exists(k) for k in keys] == [False, False, False, True]
