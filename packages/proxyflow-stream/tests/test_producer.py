from __future__ import annotations

import queue
import threading
from typing import Any

import pytest

from proxyflow.store import Store
from proxyflow.stream import (
    BatchEvent,
    BatchSendError,
    EndOfStreamEvent,
    EventEncodeError,
    NewObjectEvent,
    NewObjectKeyEvent,
    ProducerClosedError,
    StreamProducer,
    TopicClosedError,
)
from proxyflow.stream.filters import KeyEquals, NullFilter, SamplingFilter


def object_events(events: list[Any]) -> list[Any]:
    out: list[Any] = []
    for event in events:
        if isinstance(event, BatchEvent):
            out.extend(event.events)
        elif not isinstance(event, EndOfStreamEvent):
            out.append(event)
    return out


def test_stored_objects_are_published_as_key_events(publisher: Any, store: Store) -> None:
    producer = StreamProducer(publisher, default_store=store, producer_id=b"prod-001")
    producer.send("t", {"x": 1}, metadata={"i": 0})
    producer.send("t", [2], evict=False)
    producer.close_topics("t")
    events = publisher.events()
    assert [type(e) for e in events] == [NewObjectKeyEvent, NewObjectKeyEvent, EndOfStreamEvent]
    assert [e.seq for e in events] == [0, 1, 2]
    assert all(e.producer_id == b"prod-001" for e in events)
    assert events[0].metadata == {"i": 0}
    assert events[0].evict is True
    assert events[1].evict is False
    assert store.get(events[0].key) == {"x": 1}
    assert events[0].store_config == events[1].store_config


def test_producer_id_defaults_to_random_8_bytes(publisher: Any) -> None:
    a, b = StreamProducer(publisher), StreamProducer(publisher)
    assert len(a.producer_id) == 8
    assert a.producer_id != b.producer_id
    assert StreamProducer(publisher, producer_id="node-1").producer_id == b"node-1"
    with pytest.raises(ValueError):
        StreamProducer(publisher, producer_id=b"")
    with pytest.raises(ValueError):
        StreamProducer(publisher, producer_id="x" * 65)
    with pytest.raises(ValueError):
        StreamProducer(publisher, batch_size=0)


def test_inline_when_no_store_or_topic_maps_to_none(publisher: Any, store: Store) -> None:
    producer = StreamProducer(publisher, stores={"a": None}, default_store=store)
    producer.send("a", "small")
    producer.send("b", "stored")
    first, second = publisher.events()
    assert isinstance(first, NewObjectEvent)
    assert first.serializer == "default"
    assert isinstance(second, NewObjectKeyEvent)
    StreamProducer(publisher).send("t", 1)
    assert isinstance(publisher.events()[-1], NewObjectEvent)


def test_batches_use_one_put_batch_and_one_message(publisher: Any, store: Store, spy: Any) -> None:
    producer = StreamProducer(publisher, default_store=store, batch_size=4)
    for i in range(8):
        producer.send("t", i)
    assert spy.calls["put_batch"] == 2
    assert spy.calls["put"] == 0
    events = publisher.events()
    assert len(events) == 2
    assert all(isinstance(e, BatchEvent) and len(e.events) == 4 for e in events)
    assert [e.seq for e in object_events(events)] == list(range(8))
    assert [store.get(e.key) for e in object_events(events)] == list(range(8))


def test_aggregator_turns_each_batch_into_one_object(publisher: Any, store: Store) -> None:
    producer = StreamProducer(publisher, default_store=store, batch_size=3, aggregator=sum)
    for i in range(1, 8):
        producer.send("t", i, metadata={"last": i, f"k{i}": True}, evict=i != 2)
    producer.close_topics("t")
    events = publisher.events()
    assert [type(e) for e in events] == [NewObjectKeyEvent] * 3 + [EndOfStreamEvent]
    assert [store.get(e.key) for e in events[:3]] == [6, 15, 7]
    assert [e.seq for e in events] == [0, 1, 2, 3]
    assert events[0].metadata == {"last": 3, "k1": True, "k2": True, "k3": True}
    assert events[2].metadata == {"last": 7, "k7": True}
    # Evicted if ANY buffered send asked for it (ProxyStore's rule): the first
    # batch mixes evict=True (1, 3) and evict=False (2).
    assert [e.evict for e in events[:3]] == [True, True, True]


def test_aggregate_is_kept_only_when_no_send_asked_for_eviction(
    publisher: Any, store: Store
) -> None:
    producer = StreamProducer(publisher, default_store=store, batch_size=2, aggregator=sum)
    producer.send("t", 1, evict=False)
    producer.send("t", 2, evict=False)
    producer.send("t", 3, evict=False)
    producer.send("t", 4, evict=True)
    assert [e.evict for e in publisher.events()] == [False, True]


def test_producer_filter_true_drops_as_in_proxystore(
    publisher: Any, store: Store, spy: Any
) -> None:
    # ProxyStore's example: a filter returning True drops, so the odd ones go.
    producer = StreamProducer(publisher, default_store=store, filter_=lambda md: md["i"] % 2 != 0)
    for i in range(6):
        producer.send("t", i, metadata={"i": i})
    events = publisher.events()
    assert [store.get(e.key) for e in events] == [0, 2, 4]
    assert [e.seq for e in events] == [0, 1, 2]
    assert spy.calls["put"] == 3


def test_producer_keep_true_keeps_and_never_stores_dropped(
    publisher: Any, store: Store, spy: Any
) -> None:
    producer = StreamProducer(publisher, default_store=store, keep=KeyEquals("keep", True))
    for i in range(6):
        producer.send("t", i, metadata={"keep": i % 2 == 0})
    events = publisher.events()
    assert [store.get(e.key) for e in events] == [0, 2, 4]
    assert [e.seq for e in events] == [0, 1, 2]
    assert spy.calls["put"] == 3


def test_producer_sampling_filter_drops_the_fraction_p(publisher: Any) -> None:
    producer = StreamProducer(publisher, filter_=SamplingFilter(0.2, seed=3))
    for i in range(2000):
        producer.send("t", i)
    assert 1500 < len(publisher.sent) < 1700  # about 80% kept


def test_producer_null_filter_drops_nothing(publisher: Any) -> None:
    producer = StreamProducer(publisher, filter_=NullFilter())
    for i in range(5):
        producer.send("t", i)
    assert len(publisher.sent) == 5


def test_producer_rejects_keep_and_filter_together(publisher: Any) -> None:
    with pytest.raises(TypeError, match=r"keep=.*filter_=.*not both"):
        StreamProducer(publisher, keep=NullFilter(), filter_=NullFilter())
    with pytest.raises(TypeError, match="callable"):
        StreamProducer(publisher, keep=True)  # type: ignore[arg-type]


def test_bad_metadata_is_rejected_before_storing(publisher: Any, store: Store, spy: Any) -> None:
    producer = StreamProducer(publisher, default_store=store)
    with pytest.raises(EventEncodeError):
        producer.send("t", 1, metadata={"o": object()})
    with pytest.raises(TypeError):
        producer.send("t", 1, metadata={2: "int key"})  # type: ignore[dict-item]
    assert spy.calls["put"] == 0
    assert publisher.sent == []
    producer.send("t", 1)
    assert publisher.events()[0].seq == 0


def test_failed_publish_evicts_what_it_stored(store: Store, spy: Any) -> None:
    class Broken:
        def send_message(self, topic: str, message: Any) -> None:
            raise ConnectionError("broker down")

        def close(self) -> None:
            pass

    producer = StreamProducer(Broken(), default_store=store, batch_size=2)
    first = producer.send("t", 1)
    with pytest.raises(BatchSendError) as info:
        producer.send("t", 2)
    assert isinstance(info.value.__cause__, ConnectionError)
    assert [(f.send_index, f.obj) for f in info.value.failures] == [(0, 1), (1, 2)]
    assert isinstance(first.exception(), ConnectionError)
    assert spy.calls["put_batch"] == 1
    assert spy.calls["evict"] == 2
    producer.flush()  # the failed batch was dropped, not retried
    assert spy.calls["put_batch"] == 1


def test_unserializable_inline_object_does_not_poison_the_topic(publisher: Any) -> None:
    producer = StreamProducer(publisher)
    with pytest.raises(Exception):
        producer.send("t", threading.Lock())
    producer.send("t", "fine")
    (event,) = publisher.events()
    assert event.seq == 0


# --- closing ---------------------------------------------------------------


def test_send_on_closed_topic_raises(publisher: Any, store: Store) -> None:
    producer = StreamProducer(publisher, default_store=store)
    producer.send("t", 1)
    producer.close_topics("t")
    with pytest.raises(TopicClosedError):
        producer.send("t", 2)
    producer.send("a", 3)  # other topics stay open


def test_every_call_after_close_raises(publisher: Any, store: Store) -> None:
    producer = StreamProducer(publisher, default_store=store)
    producer.close()
    assert producer.closed
    assert publisher.closed
    for call in (
        lambda: producer.send("t", 1),
        producer.flush,
        lambda: producer.flush_topic("t"),
        lambda: producer.close_topics("t"),
    ):
        with pytest.raises(ProducerClosedError):
            call()
    producer.close()  # idempotent


def test_close_flushes_every_partial_batch(publisher: Any, store: Store, spy: Any) -> None:
    """Regression: close() used to drop objects buffered in partial batches."""
    producer = StreamProducer(publisher, default_store=store, batch_size=10)
    for i in range(3):
        producer.send("a", i)
    for i in range(2):
        producer.send("b", i)
    assert publisher.sent == []
    producer.close(topics=["a"], stores=False)
    events = publisher.events()
    values = {
        t: [store.get(e.key) for e in object_events(events) if e.topic == t] for t in ("a", "b")
    }
    assert values == {"a": [0, 1, 2], "b": [0, 1]}
    assert spy.calls["put_batch"] == 2
    assert isinstance(events[-1], EndOfStreamEvent)
    assert events[-1].topic == "a"


def test_flush_after_close_topics_sends_no_second_end_of_stream(
    publisher: Any, store: Store
) -> None:
    """Regression: flush() after close_topics() used to send end-of-stream again."""
    producer = StreamProducer(publisher, default_store=store, batch_size=5)
    producer.send("t", 1)
    producer.close_topics("t")
    producer.flush()
    producer.flush_topic("t")
    producer.close_topics("t")
    producer.close(topics=["t"])
    eos = [e for e in publisher.events() if isinstance(e, EndOfStreamEvent)]
    assert len(eos) == 1
    assert eos[0].seq == 1


def test_empty_flush_sends_and_stores_nothing(
    publisher: Any, store: Store, spy: Any, q: queue.Queue[Any]
) -> None:
    """Regression: an empty flush used to store and publish an empty batch."""
    producer = StreamProducer(publisher, default_store=store, batch_size=3, aggregator=list)
    producer.flush()
    producer.flush_topic("t")
    producer.send("t", 1)
    producer.flush_topic("t")
    producer.flush_topic("t")
    producer.flush()
    assert len(publisher.sent) == 1
    assert spy.calls["put_batch"] + spy.calls["put"] == 1
    assert q.qsize() == 1


def test_close_releases_publisher_and_stores_without_deleting(publisher: Any, store: Store) -> None:
    with StreamProducer(publisher, default_store=store, stores={"a": store}) as producer:
        producer.send("t", "kept")
    assert publisher.closed
    assert store.closed
    key = publisher.events()[0].key
    assert store_exists_elsewhere(store, key)


def store_exists_elsewhere(store: Store, key: Any) -> bool:
    """Whether the data outlived the closed store (rebuild a store from its config)."""
    fresh = Store.from_config(store.config())
    try:
        return fresh.exists(key)
    finally:
        fresh.close()


def test_close_can_keep_publisher_and_stores(publisher: Any, store: Store) -> None:
    producer = StreamProducer(publisher, default_store=store)
    producer.close(publisher=False, stores=False)
    assert not publisher.closed
    assert not store.closed


# --- threads ---------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 3])
def test_threads_sharing_a_producer(publisher: Any, store: Store, batch_size: int) -> None:
    producer = StreamProducer(publisher, default_store=store, batch_size=batch_size)
    threads_n, per_thread = 4, 60
    start = threading.Barrier(threads_n)

    def work(t: int) -> None:
        start.wait(timeout=10)
        for i in range(per_thread):
            producer.send("a" if i % 2 else "b", (t, i))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()
    producer.close(topics=["a", "b"], stores=False)
    events = publisher.events()
    objects = object_events(events)
    assert len(objects) == threads_n * per_thread
    assert sorted(store.get(e.key) for e in objects) == sorted(
        (t, i) for t in range(threads_n) for i in range(per_thread)
    )
    for topic in ("a", "b"):
        seqs = [e.seq for e in objects if e.topic == topic]
        assert seqs == list(range(len(seqs)))  # unique, gap-free, in wire order
        (eos,) = [e for e in events if isinstance(e, EndOfStreamEvent) and e.topic == topic]
        assert eos.seq == len(seqs)


def test_a_proxystore_event_publisher_fails_loudly() -> None:
    class EventPublisher:  # ProxyStore's other publisher kind: send_events, no send_message
        def send_events(self, events: Any) -> None:
            raise AssertionError("never sent")

        def close(self) -> None:
            pass

    with pytest.raises(TypeError, match="send_message"):
        StreamProducer(EventPublisher())  # type: ignore[arg-type]


def test_publisher_is_exposed_as_in_proxystore(publisher: Any) -> None:
    assert StreamProducer(publisher).publisher is publisher
