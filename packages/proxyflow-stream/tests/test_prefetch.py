from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

import pytest

from proxyflow.proxy import Proxy
from proxyflow.store import Store
from proxyflow.stream import (
    ConsumerClosedError,
    ConsumerTimeoutError,
    EventDecodeError,
    StreamConsumer,
    StreamObjectMissingError,
    StreamProducer,
)

Factory = Callable[..., Any]
THREAD_NAME = "proxyflow-consumer-prefetch"


def prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


def wait_no_prefetch_thread(timeout: float = 10.0) -> None:
    for thread in prefetch_threads():
        thread.join(timeout)
    assert not prefetch_threads()


def produce(publisher: Any, store: Store | None, objs: list[Any], *, close: bool = True) -> None:
    producer = StreamProducer(publisher, default_store=store)
    for i, obj in enumerate(objs):
        producer.send("t", obj, metadata={"i": i})
    producer.close(topics=["t"] if close else [], stores=False, publisher=False)


def test_prefetch_keeps_order_and_batches_reads(
    publisher: Any, store: Store, spy: Any, new_subscriber: Factory
) -> None:
    produce(publisher, store, [{"n": i} for i in range(40)])
    with StreamConsumer(
        new_subscriber("t"), timeout=5, prefetch=8, store_overrides={store.name: store}
    ) as consumer:
        received = list(consumer.iter_objects_with_metadata())
    assert [obj["n"] for _, obj in received] == list(range(40))
    assert [md["i"] for md, _ in received] == list(range(40))
    # Every event was already waiting: reads were batched, never above `prefetch`.
    assert spy.calls["get_batch"] >= 1
    assert max(spy.batch_sizes) <= 8
    assert sum(spy.batch_sizes) > 20
    for event in publisher.events()[:-1]:
        assert not store.exists(event.key)  # read with evict=True
    assert consumer.stats.objects == 40
    wait_no_prefetch_thread()


def test_plain_iteration_never_starts_the_thread(
    publisher: Any, store: Store, new_subscriber: Factory
) -> None:
    produce(publisher, store, list(range(5)))
    with StreamConsumer(new_subscriber("t"), timeout=5, prefetch=4) as consumer:
        proxies = list(consumer)
        assert not prefetch_threads()
    assert all(isinstance(p, Proxy) for p in proxies)
    for event in publisher.events()[:-1]:
        assert store.exists(event.key)  # nothing was pulled
    assert [p + 0 for p in proxies] == list(range(5))


def test_errors_surface_in_order_and_later_objects_still_arrive(
    publisher: Any, store: Store, q: queue.Queue[Any], new_subscriber: Factory
) -> None:
    produce(publisher, store, ["a", "b", "gone", "c"], close=False)
    q.put(b"not an event")
    produce(publisher, store, ["d"])
    store.evict(publisher.events()[2].key)
    consumer = StreamConsumer(new_subscriber("t"), timeout=5, prefetch=8)
    try:
        assert consumer.next_object() == "a"
        assert consumer.next_object() == "b"
        with pytest.raises(StreamObjectMissingError):
            consumer.next_object()
        assert consumer.next_object() == "c"
        with pytest.raises(EventDecodeError):
            consumer.next_object()
        assert consumer.next_object() == "d"
        with pytest.raises(StopIteration):
            consumer.next_object()
        with pytest.raises(StopIteration):
            consumer.next_object()
        assert consumer.ended
    finally:
        consumer.close()
    wait_no_prefetch_thread()


def test_timeouts_surface_and_the_consumer_stays_usable(
    publisher: Any, store: Store, new_subscriber: Factory
) -> None:
    consumer = StreamConsumer(new_subscriber("t"), timeout=0.05, prefetch=4)
    try:
        with pytest.raises(ConsumerTimeoutError):
            consumer.next_object()
        produce(publisher, store, ["late"])
        assert consumer.next_object_with_metadata() == ({"i": 0}, "late")
        with pytest.raises(StopIteration):
            consumer.next_object()
    finally:
        consumer.close()
    wait_no_prefetch_thread()


def test_next_after_the_thread_started_returns_resolved_objects(
    publisher: Any, store: Store, new_subscriber: Factory
) -> None:
    produce(publisher, store, [[1], [2], [3]])
    with StreamConsumer(new_subscriber("t"), timeout=5, prefetch=2) as consumer:
        assert consumer.next_object() == [1]
        second = consumer.next()
        assert type(second) is list
        assert second == [2]
        assert consumer.next_with_metadata() == ({"i": 2}, [3])


def test_inline_objects_are_prefetched_too(publisher: Any, new_subscriber: Factory) -> None:
    produce(publisher, None, [b"x", "y", {"z": 1}])
    with StreamConsumer(new_subscriber("t"), timeout=5, prefetch=3) as consumer:
        assert list(consumer.iter_objects()) == [b"x", "y", {"z": 1}]


def test_close_stops_a_blocked_thread_promptly(new_subscriber: Factory) -> None:
    consumer = StreamConsumer(new_subscriber("t"), prefetch=4)  # waits forever for messages
    outcome: queue.Queue[str] = queue.Queue()
    started = threading.Event()

    def read() -> None:
        started.set()
        try:
            consumer.next_object()
            outcome.put("object")
        except StopIteration:
            outcome.put("stopped")
        except ConsumerClosedError:
            outcome.put("closed")

    reader = threading.Thread(target=read)
    reader.start()
    assert started.wait(5)
    for _ in range(500):  # the reader starts the prefetch thread
        if prefetch_threads():
            break
        threading.Event().wait(0.01)
    assert prefetch_threads()
    consumer.close()
    reader.join(10)
    assert not reader.is_alive()
    assert outcome.get(timeout=1) == "stopped"
    wait_no_prefetch_thread(timeout=5)
    with pytest.raises(ConsumerClosedError):
        consumer.next_object()


def test_closing_with_objects_resolved_ahead_leaks_no_thread(
    publisher: Any, store: Store, new_subscriber: Factory
) -> None:
    produce(publisher, store, list(range(20)))
    consumer = StreamConsumer(new_subscriber("t"), timeout=5, prefetch=4)
    assert consumer.next_object() == 0
    consumer.close()
    wait_no_prefetch_thread()


def test_prefetch_must_not_be_negative(new_subscriber: Factory) -> None:
    with pytest.raises(ValueError, match="prefetch"):
        StreamConsumer(new_subscriber("t"), prefetch=-1)


class Undecodable:
    """Pickles fine; unpickling raises (int("x")), so its read fails in the consumer."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (int, ("not a number",))


def test_an_undecodable_object_in_a_batched_read_loses_none_of_the_others(
    publisher: Any, store: Store, spy: Any, new_subscriber: Factory
) -> None:
    from proxyflow.serialize import SerializationError

    produce(publisher, store, ["a", "b", Undecodable(), "c", "d"])
    with StreamConsumer(
        new_subscriber("t"), timeout=5, prefetch=8, store_overrides={store.name: store}
    ) as consumer:
        assert consumer.next_object() == "a"
        assert consumer.next_object() == "b"
        with pytest.raises(SerializationError):
            consumer.next_object()
        assert consumer.next_object() == "c"
        assert consumer.next_object() == "d"
    assert spy.calls["get_batch"] >= 1  # the objects were read in a batch
    wait_no_prefetch_thread()
