from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from proxyflow.connectors.local import LocalConnector
from proxyflow.proxy import Proxy
from proxyflow.serialize import serialize
from proxyflow.store import (
    Store,
    StoreConfig,
    UnknownConnectorError,
    register_store,
    unregister_store,
)
from proxyflow.stream import (
    ConnectorNotAllowedError,
    ConsumerClosedError,
    ConsumerTimeoutError,
    EventDecodeError,
    NewObjectKeyEvent,
    StreamConsumer,
    StreamObjectMissingError,
    StreamProducer,
    encode_event,
)
from proxyflow.stream.events import encode_store_config
from proxyflow.stream.filters import KeyEquals, NullFilter, SamplingFilter

Factory = Callable[..., Any]


def new_store(prefix: str = "stream-test") -> Store:
    return Store(f"{prefix}-{uuid.uuid4().hex[:8]}", LocalConnector())


def test_proxies_across_threads(publisher: Any, store: Store, new_subscriber: Factory) -> None:
    def produce() -> None:
        with StreamProducer(publisher, default_store=store) as producer:
            for i in range(20):
                producer.send("t", {"i": i}, metadata={"i": i})
            producer.close(topics=["t"], stores=False)

    thread = threading.Thread(target=produce)
    thread.start()
    with StreamConsumer(new_subscriber("t"), timeout=10) as consumer:
        received = list(consumer.iter_with_metadata())
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert [md["i"] for md, _ in received] == list(range(20))
    assert all(isinstance(p, Proxy) for _, p in received)
    assert [p["i"] for _, p in received] == list(range(20))
    assert consumer.stats.objects == 20
    assert consumer.stats.events == 21


def test_inline_objects_are_yielded_directly(publisher: Any, new_subscriber: Factory) -> None:
    with StreamProducer(publisher) as producer:
        producer.send("t", [1, 2], metadata={"n": 2})
        producer.send("t", b"raw")
        producer.close_topics("t")
    consumer = StreamConsumer(new_subscriber("t"), timeout=5)
    # (metadata, item), metadata first, as in ProxyStore.
    assert consumer.next_with_metadata() == ({"n": 2}, [1, 2])
    assert consumer.next_object() == b"raw"
    with pytest.raises(StopIteration):
        next(consumer)
    with pytest.raises(StopIteration):
        consumer.next()
    assert consumer.ended


def test_batches_arrive_one_by_one_in_order(
    publisher: Any, store: Store, new_subscriber: Factory
) -> None:
    with StreamProducer(publisher, default_store=store, batch_size=4) as producer:
        for i in range(10):
            producer.send("t", i)
        producer.close_topics("t")
    consumer = StreamConsumer(new_subscriber("t"), timeout=5)
    assert list(consumer.iter_objects()) == list(range(10))
    assert consumer.stats.events == 4  # 3 batches + end-of-stream


def test_aggregated_batches(publisher: Any, store: Store, new_subscriber: Factory) -> None:
    with StreamProducer(publisher, default_store=store, batch_size=2, aggregator=list) as p:
        for i in range(5):
            p.send("t", i, metadata={"i": i})
        p.close_topics("t")
    consumer = StreamConsumer(new_subscriber("t"), timeout=5)
    assert list(consumer.iter_objects_with_metadata()) == [
        ({"i": 1}, [0, 1]),
        ({"i": 3}, [2, 3]),
        ({"i": 4}, [4]),
    ]


@pytest.mark.parametrize("evict", [True, False])
def test_evict_flag_on_next_object(
    publisher: Any, store: Store, new_subscriber: Factory, evict: bool
) -> None:
    with StreamProducer(publisher, default_store=store) as producer:
        producer.send("t", "payload", evict=evict)
        producer.close(topics=["t"], stores=False)
    key = publisher.events()[0].key
    consumer = StreamConsumer(new_subscriber("t"), timeout=5)
    assert consumer.next_object() == "payload"
    assert store.exists(key) is (not evict)


@pytest.mark.parametrize("evict", [True, False])
def test_evict_flag_on_proxy_resolution(
    publisher: Any, store: Store, new_subscriber: Factory, evict: bool
) -> None:
    with StreamProducer(publisher, default_store=store) as producer:
        producer.send("t", [1, 2, 3], evict=evict)
        producer.close(topics=["t"], stores=False)
    key = publisher.events()[0].key
    proxy = StreamConsumer(new_subscriber("t"), timeout=5).next()
    assert store.exists(key)  # a proxy resolves lazily
    assert len(proxy) == 3
    assert store.exists(key) is (not evict)


def test_missing_object_raises_typed_error(
    publisher: Any, store: Store, new_subscriber: Factory
) -> None:
    with StreamProducer(publisher, default_store=store) as producer:
        producer.send("t", "gone")
        producer.close(topics=["t"], stores=False)
    store.evict(publisher.events()[0].key)
    consumer = StreamConsumer(new_subscriber("t"), timeout=5)
    with pytest.raises(StreamObjectMissingError) as info:
        consumer.next_object()
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, ValueError)  # what ProxyStore's next_object raises
    assert info.value.store_name == store.name


@pytest.mark.parametrize("how", ["keep", "filter_"])
def test_consumer_filter_drops_and_evicts(
    publisher: Any, store: Store, new_subscriber: Factory, how: str
) -> None:
    with StreamProducer(publisher, default_store=store) as producer:
        for i in range(6):
            producer.send("t", i, metadata={"even": i % 2 == 0}, evict=i < 3)
        producer.close(topics=["t"], stores=False)
    keys = [e.key for e in publisher.events()[:6]]
    select = {how: KeyEquals("even", how == "keep")}  # keep evens / drop odds
    consumer = StreamConsumer(new_subscriber("t"), timeout=5, **select)
    assert list(consumer.iter_objects()) == [0, 2, 4]
    assert consumer.stats.filtered == 3
    # Dropped objects 1 (evict) is gone, 3 and 5 (no evict) stay; kept 4 (no evict) stays.
    assert [store.exists(k) for k in keys] == [False, False, False, True, True, True]


def test_consumer_filter_true_drops_as_in_proxystore(
    publisher: Any, new_subscriber: Factory
) -> None:
    with StreamProducer(publisher) as producer:
        for i in range(6):
            producer.send("t", i, metadata={"i": i})
        producer.close_topics("t")
    consumer = StreamConsumer(new_subscriber("t"), timeout=5, filter_=lambda md: md["i"] % 2 != 0)
    assert list(consumer) == [0, 2, 4]
    assert consumer.stats.filtered == 3


def test_consumer_keep_on_inline_objects(publisher: Any, new_subscriber: Factory) -> None:
    with StreamProducer(publisher) as producer:
        for i in range(4):
            producer.send("t", i, metadata={"i": i})
        producer.close_topics("t")
    consumer = StreamConsumer(new_subscriber("t"), timeout=5, keep=lambda md: md["i"] > 1)
    assert list(consumer) == [2, 3]


def test_consumer_sampling_and_null_filters_mean_what_they_mean_in_proxystore(
    publisher: Any, new_subscriber: Factory
) -> None:
    producer = StreamProducer(publisher)
    for i in range(2000):
        producer.send("t", i)
    producer.close_topics("t")
    sampled = StreamConsumer(new_subscriber("t"), timeout=5, filter_=SamplingFilter(0.2, seed=5))
    assert 1500 < len(list(sampled)) < 1700  # drops about 20%
    for i in range(5):
        producer.send("a", i)
    producer.close(topics=["a"])
    null = StreamConsumer(new_subscriber("a"), timeout=5, filter_=NullFilter())
    assert list(null) == [0, 1, 2, 3, 4]


def test_consumer_rejects_keep_and_filter_together(new_subscriber: Factory) -> None:
    with pytest.raises(TypeError, match="not both"):
        StreamConsumer(new_subscriber("t"), keep=NullFilter(), filter_=NullFilter())


def test_multi_topic_stream_ends_only_when_every_topic_ended(
    publisher: Any, store: Store, new_subscriber: Factory
) -> None:
    """Regression: the stream used to stop at the first end-of-stream event."""
    with StreamProducer(publisher, default_store=store) as producer:
        producer.send("a", "a0")
        producer.close_topics("a")
        producer.send("b", "b0")
        producer.send("b", "b1")
        producer.close(topics=["b"], stores=False)
    consumer = StreamConsumer(new_subscriber("a", "b"), timeout=5)
    assert list(consumer.iter_objects()) == ["a0", "b0", "b1"]


def test_topics_argument_overrides_subscriber_topics(
    publisher: Any, new_subscriber: Factory
) -> None:
    with StreamProducer(publisher) as producer:
        producer.send("a", 1)
        producer.close_topics("a")
        producer.send("b", 2)
        producer.close_topics("b")
    consumer = StreamConsumer(new_subscriber(), topics=["a", "b"], timeout=5)
    assert list(consumer) == [1, 2]


def test_without_topics_the_first_end_of_stream_ends(
    publisher: Any, new_subscriber: Factory, q: queue.Queue[Any]
) -> None:
    with StreamProducer(publisher) as producer:
        producer.send("a", 1)
        producer.close_topics("a")
        producer.send("b", 2)
    consumer = StreamConsumer(new_subscriber(), timeout=5)
    assert consumer.topics == ()
    assert list(consumer) == [1]
    assert q.qsize() == 1  # the message on "b" was not read


def test_waits_for_n_producers_per_topic(
    new_publisher: Factory, store: Store, new_subscriber: Factory
) -> None:
    """Regression: with several producers the first end-of-stream ended the topic."""
    first = StreamProducer(new_publisher(), default_store=store, producer_id=b"first")
    second = StreamProducer(new_publisher(), default_store=store, producer_id=b"second")
    first.send("t", 1)
    first.close(topics=["t"], stores=False)
    first_again = StreamProducer(new_publisher(), producer_id=b"first")
    first_again.close(topics=["t"])  # a duplicate id does not count twice
    second.send("t", 2)
    second.close(topics=["t"], stores=False)
    consumer = StreamConsumer(new_subscriber("t"), timeout=5, producers_per_topic=2)
    assert list(consumer.iter_objects()) == [1, 2]
    assert consumer.stats.events == 5


def test_producers_per_topic_mapping(
    new_publisher: Factory, new_subscriber: Factory, q: queue.Queue[Any]
) -> None:
    producers = [StreamProducer(new_publisher()) for _ in range(3)]
    for n, producer in enumerate(producers):
        producer.send("a", f"a{n}")
        producer.close_topics("a")
    producers[0].send("b", "b0")
    producers[0].close_topics("b")
    StreamProducer(new_publisher()).send("b", "after the end")  # never read
    consumer = StreamConsumer(new_subscriber("a", "b"), timeout=5, producers_per_topic={"a": 3})
    assert list(consumer) == ["a0", "a1", "a2", "b0"]
    assert q.qsize() == 1
    with pytest.raises(ValueError):
        StreamConsumer(new_subscriber("a"), producers_per_topic={"a": 0})
    with pytest.raises(ValueError):
        StreamConsumer(new_subscriber("a"), producers_per_topic=0)


def test_store_is_looked_up_per_event(new_publisher: Factory, new_subscriber: Factory) -> None:
    """Regression: the consumer used one store per topic, breaking mixed producers."""
    store_one, store_two = new_store("one"), new_store("two")
    with (
        StreamProducer(new_publisher(), default_store=store_one) as one,
        StreamProducer(new_publisher(), default_store=store_two) as two,
    ):
        one.send("t", "from one")
        two.send("t", "from two")
        one.send("t", "one again")
        one.close_topics("t")
        two.close_topics("t")
    consumer = StreamConsumer(new_subscriber("t"), timeout=5, producers_per_topic=2)
    assert list(consumer.iter_objects()) == ["from one", "from two", "one again"]


def test_store_rebuilt_from_config_is_owned_and_closed(
    publisher: Any, new_subscriber: Factory
) -> None:
    connector = LocalConnector()
    producer_store = Store(f"rebuilt-{uuid.uuid4().hex[:8]}", connector)
    with StreamProducer(publisher, default_store=producer_store) as producer:
        producer.send("t", "x", evict=False)
        producer.close(topics=["t"], stores=False)
    consumer = StreamConsumer(new_subscriber("t"), timeout=5)
    assert consumer.next_object() == "x"
    built = list(consumer._source.resolver.cache.values())
    consumer.close()
    assert consumer._source.resolver._owned == {}
    assert built[0] is not producer_store  # rebuilt from the event's config
    assert built[0].closed
    assert not producer_store.closed
    assert producer_store.exists(publisher.events()[0].key)
    producer_store.close()


def test_store_overrides_are_used_and_not_closed(
    publisher: Any, store: Store, new_subscriber: Factory
) -> None:
    with StreamProducer(publisher, default_store=store) as producer:
        producer.send("t", "x")
        producer.close(topics=["t"], stores=False)
    override = Store.from_config(store.config())
    consumer = StreamConsumer(
        new_subscriber("t"),
        timeout=5,
        store_overrides={store.name: override},
        allowed_connectors=(),
    )
    assert consumer.next_object() == "x"
    assert consumer._source.resolver.cache == {publisher.events()[0].store_config: override}
    consumer.close()
    assert not override.closed
    override.close()


def test_allowlist_rejects_other_connectors(
    publisher: Any, store: Store, new_subscriber: Factory
) -> None:
    with StreamProducer(publisher, default_store=store) as producer:
        producer.send("t", "x")
        producer.send("t", "y")
        producer.close(topics=["t"], stores=False)
    consumer = StreamConsumer(new_subscriber("t"), timeout=5, allowed_connectors={"file"})
    with pytest.raises(ConnectorNotAllowedError):
        consumer.next()
    assert store.exists(publisher.events()[0].key)  # nothing is lost
    allowed = StreamConsumer(new_subscriber("t"), timeout=5, allowed_connectors=["local"])
    assert list(allowed.iter_objects()) == ["y"]


def test_unknown_connector_kind_propagates(q: queue.Queue[Any], new_subscriber: Factory) -> None:
    config = StoreConfig("ghost", "no-such-connector", {})
    event = NewObjectKeyEvent(b"p", "t", 0, encode_store_config(config), "k", True, {})
    q.put(encode_event(event))
    with pytest.raises(UnknownConnectorError):
        StreamConsumer(new_subscriber("t"), timeout=5).next()


def test_timeout_raises_consumer_timeout_error(
    new_subscriber: Factory, q: queue.Queue[Any]
) -> None:
    consumer = StreamConsumer(new_subscriber("t"), timeout=0.05)
    with pytest.raises(ConsumerTimeoutError) as info:
        consumer.next()
    assert isinstance(info.value, TimeoutError)
    with StreamProducer(queue_publisher_for(q)) as producer:
        producer.send("t", "late")
    assert consumer.next() == "late"  # still usable after a timeout


def queue_publisher_for(q: queue.Queue[Any]) -> Any:
    from proxyflow.shims.queue import QueuePublisher

    return QueuePublisher({"t": q})


@pytest.mark.parametrize("bad", [b"", b"\xc1", b"\x93\x01\x02"])
def test_decode_errors_raise_by_default(
    bad: bytes, q: queue.Queue[Any], new_subscriber: Factory
) -> None:
    q.put(bad)
    consumer = StreamConsumer(new_subscriber("t"), timeout=5)
    with pytest.raises(EventDecodeError):
        consumer.next()


def test_decode_errors_skipped_and_counted(
    publisher: Any, q: queue.Queue[Any], new_subscriber: Factory
) -> None:
    q.put(b"garbage")
    with StreamProducer(publisher) as producer:
        producer.send("t", 1)
        q.put(b"\x95\x01\x03")
        producer.send("t", 2)
        producer.close_topics("t")
    consumer = StreamConsumer(new_subscriber("t"), timeout=5, on_decode_error="skip")
    assert list(consumer) == [1, 2]
    assert consumer.stats.skipped_bad_messages == 2
    assert consumer.stats.events == 3
    with pytest.raises(ValueError):
        StreamConsumer(new_subscriber("t"), on_decode_error="ignore")  # type: ignore[arg-type]


def test_bad_inline_payload_is_a_decode_error(q: queue.Queue[Any], new_subscriber: Factory) -> None:
    from proxyflow.stream import EndOfStreamEvent, NewObjectEvent

    q.put(encode_event(NewObjectEvent(b"p", "t", 0, "no-such-serializer", b"x", {})))
    q.put(encode_event(NewObjectEvent(b"p", "t", 1, "default", b"\xfa\x00\x00", {})))
    good = bytes(serialize("ok"))
    q.put(encode_event(NewObjectEvent(b"p", "t", 2, "default", good, {})))
    q.put(encode_event(EndOfStreamEvent(b"p", "t", 3)))
    with pytest.raises(EventDecodeError):
        StreamConsumer(new_subscriber("t"), timeout=5).next()
    skipping = StreamConsumer(new_subscriber("t"), timeout=5, on_decode_error="skip")
    assert list(skipping) == ["ok"]
    assert skipping.stats.skipped_bad_messages == 1


def test_closed_subscriber_ends_the_stream(new_subscriber: Factory) -> None:
    subscriber = new_subscriber("t")
    subscriber.close()
    consumer = StreamConsumer(subscriber, timeout=5)
    assert list(consumer) == []


def test_calls_after_close_raise(new_subscriber: Factory) -> None:
    subscriber = new_subscriber("t")
    with StreamConsumer(subscriber, timeout=5) as consumer:
        pass
    with pytest.raises(ConsumerClosedError):
        consumer.next()
    with pytest.raises(ConsumerClosedError):
        list(consumer.iter_objects())
    consumer.close()  # idempotent
    with pytest.raises(EOFError):
        subscriber.next_message(0.01)


def test_close_from_another_thread_ends_a_blocked_next(new_subscriber: Factory) -> None:
    consumer = StreamConsumer(new_subscriber("t"))
    started = threading.Event()
    outcome: queue.Queue[str] = queue.Queue()

    def read() -> None:
        started.set()
        try:
            consumer.next()
            outcome.put("object")
        except StopIteration:
            outcome.put("stopped")

    thread = threading.Thread(target=read)
    thread.start()
    assert started.wait(timeout=5)
    consumer.close()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert outcome.get(timeout=1) == "stopped"


def test_dropped_objects_without_evict_need_no_store(
    publisher: Any, store: Store, new_subscriber: Factory
) -> None:
    with StreamProducer(publisher, default_store=store) as producer:
        producer.send("t", 1, evict=False)
        producer.close(topics=["t"], stores=False)
    consumer = StreamConsumer(
        new_subscriber("t"), timeout=5, allowed_connectors=(), filter_=lambda md: True
    )
    assert list(consumer) == []
    assert consumer.stats.filtered == 1
    assert consumer._source.resolver.cache == {}


def test_threads_sharing_a_consumer_get_each_object_once(
    publisher: Any, store: Store, new_subscriber: Factory
) -> None:
    with StreamProducer(publisher, default_store=store, batch_size=7) as producer:
        for i in range(200):
            producer.send("t", i)
        producer.close(topics=["t"], stores=False)
    consumer = StreamConsumer(new_subscriber("t"), timeout=5)
    results: list[list[int]] = [[], [], []]

    def read(bucket: list[int]) -> None:
        bucket.extend(consumer.iter_objects())

    threads = [threading.Thread(target=read, args=(bucket,)) for bucket in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()
    assert sorted(i for bucket in results for i in bucket) == list(range(200))
    assert all(bucket == sorted(bucket) for bucket in results)


def test_a_single_topic_string(publisher: Any, new_subscriber: Factory) -> None:
    with StreamProducer(publisher) as producer:
        producer.send("ab", 1)
        producer.close_topics("ab")
    consumer = StreamConsumer(new_subscriber(), topics="ab", timeout=5)  # type: ignore[arg-type]
    assert consumer.topics == ("ab",)
    assert list(consumer) == [1]


def test_registered_store_is_reused_and_not_closed(
    publisher: Any, store: Store, new_subscriber: Factory
) -> None:
    register_store(store)
    try:
        with StreamProducer(publisher, default_store=store) as producer:
            producer.send("t", "x")
            producer.close(topics=["t"], stores=False)
        consumer = StreamConsumer(new_subscriber("t"), timeout=5)
        assert consumer.next_object() == "x"
        assert list(consumer._source.resolver.cache.values()) == [store]
        consumer.close()
        assert not store.closed
    finally:
        unregister_store(store.name)


def test_a_proxystore_event_subscriber_fails_loudly() -> None:
    class EventSubscriber:  # ProxyStore's other subscriber kind: no next_message
        def __next__(self) -> Any:
            raise AssertionError("never read")

        def close(self) -> None:
            pass

    with pytest.raises(TypeError, match="next_message"):
        StreamConsumer(EventSubscriber())  # type: ignore[arg-type]


def test_subscriber_is_exposed_as_in_proxystore(new_subscriber: Factory) -> None:
    subscriber = new_subscriber("t")
    assert StreamConsumer(subscriber).subscriber is subscriber


def test_no_topics_stops_at_the_first_end_of_stream_as_proxystore_does(
    publisher: Any, new_subscriber: Factory
) -> None:
    with StreamProducer(publisher) as producer:
        producer.send("a", "from a")
        producer.close_topics("a")
        producer.send("b", "from b")
        producer.close_topics("b")
    consumer = StreamConsumer(new_subscriber("a", "b"), timeout=5, topics=())
    assert list(consumer) == ["from a"]
