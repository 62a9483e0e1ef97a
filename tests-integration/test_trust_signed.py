"""Signed events on real brokers: what a key holder sends is read; forgeries are rejected.

A producer and a consumer share ``signing_key``. The tests publish on Redis
(the list shim) and ZeroMQ, store objects in a directory and in Redis, and
play the attacker: unsigned and forged events, a genuine event with one bit
changed, a genuine event copied to another topic, and stored bytes replaced
by a pickle that would run code. Each is rejected with its typed error, and
``on_decode_error="skip"`` skips and counts it.
"""

from __future__ import annotations

import pickle
import uuid
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("redis")

import redis
from pfit.attacks import Marker, forget_trust_settings

from proxyflow.connectors.file import FileConnector
from proxyflow.connectors.redis import RedisConnector
from proxyflow.proxy import ProxyResolveError, get_factory
from proxyflow.shims.redis import RedisQueuePublisher, RedisQueueSubscriber
from proxyflow.store import ContentDigestError, Store, StoreConfig, StoreFactory
from proxyflow.stream import (
    ForgedEventError,
    ReplayedEventError,
    StreamConsumer,
    StreamProducer,
    TamperedObjectError,
    UnsignedEventError,
)
from proxyflow.stream.events import (
    EndOfStreamEvent,
    NewObjectKeyEvent,
    decode_event,
    encode_event,
    encode_store_config,
)

KEY = "shared-signing-key-0123456789abcdef"
OTHER_KEY = "someone-elses-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def _no_trust_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    forget_trust_settings(monkeypatch)


def new_topic() -> str:
    return f"signed-{uuid.uuid4().hex[:10]}"


def consumer(redis_url: str, topic: str, **options: Any) -> StreamConsumer[Any]:
    options.setdefault("signing_key", KEY)
    options.setdefault("trusted_locations", [])  # only the signature can make a location trusted
    options.setdefault("timeout", 10)
    return StreamConsumer(RedisQueueSubscriber(redis_url, [topic]), **options)


def produce(
    redis_url: str,
    topic: str,
    store: Store | None,
    objs: list[Any],
    *,
    evict: bool = True,
    **options: Any,
) -> None:
    publisher = RedisQueuePublisher(redis_url)
    with StreamProducer(publisher, default_store=store, signing_key=KEY, **options) as producer:
        for obj in objs:
            producer.send(topic, obj, evict=evict)
        producer.close_topics(topic)


def foreign_store(directory: Path) -> StoreConfig:
    """A store config as another process would send it (not trusted here by any setting)."""
    return StoreConfig("elsewhere", "file", {"store_dir": str(directory)})


@pytest.mark.parametrize("batch_size", [1, 3])
def test_signed_stream_is_read_from_an_untrusted_directory_and_redis(
    redis_url: str, tmp_path: Path, batch_size: int
) -> None:
    objs = [{"i": i} for i in range(5)] + [b"x" * 300_000]
    stores = [
        Store("signed-file", FileConnector(tmp_path / "objects")),
        Store("signed-redis", RedisConnector(redis_url, prefix=f"{uuid.uuid4().hex}:")),
        None,  # inline
    ]
    for store in stores:
        topic = new_topic()
        produce(redis_url, topic, store, objs, batch_size=batch_size)
        with consumer(redis_url, topic) as reader:
            assert list(reader.iter_objects()) == objs
            assert reader.stats.untrusted == 0


def test_unsigned_event_is_rejected(redis_url: str, tmp_path: Path) -> None:
    topic = new_topic()
    store = Store("plain", FileConnector(tmp_path / "plain"))
    with StreamProducer(RedisQueuePublisher(redis_url), default_store=store) as producer:
        producer.send(topic, "unsigned")
        producer.close_topics(topic)
    with consumer(redis_url, topic) as reader, pytest.raises(UnsignedEventError):
        reader.next()


def test_forged_events_are_rejected_and_counted(redis_url: str, tmp_path: Path) -> None:
    topic = new_topic()
    marker = tmp_path / "code-ran"
    evil_dir = tmp_path / "evil"
    with Store("evil", FileConnector(evil_dir)) as evil:
        key, digest = evil.put_digested(Marker(marker))
    config = encode_store_config(foreign_store(evil_dir))
    forged = NewObjectKeyEvent(b"attacker", topic, 0, config, key, False, {}, digest)
    unsigned_end = encode_event(EndOfStreamEvent(b"attacker", topic, 1))
    with RedisQueuePublisher(redis_url) as publisher:
        publisher.send_message(topic, encode_event(forged, signing_key=OTHER_KEY))
        publisher.send_message(topic, encode_event(forged))  # unsigned
        publisher.send_message(topic, unsigned_end)  # an unsigned end cannot stop the stream
    produce(redis_url, topic, None, ["genuine"])
    with consumer(redis_url, topic, on_decode_error="skip") as reader:
        assert list(reader.iter_objects()) == ["genuine"]
        assert reader.stats.untrusted == 3
    assert not marker.exists()


def test_a_changed_bit_is_a_forgery(redis_url: str) -> None:
    topic = new_topic()
    produce(redis_url, topic, None, ["payload"])
    with RedisQueueSubscriber(redis_url, [topic]) as raw:
        genuine = bytes(raw.next_message(10))
        end = bytes(raw.next_message(10))
    assert b"payload" in genuine
    changed = genuine.replace(b"payload", b"paylaod")
    with RedisQueuePublisher(redis_url) as publisher:
        publisher.send_message(topic, changed)
        publisher.send_message(topic, end)
    with consumer(redis_url, topic) as reader, pytest.raises(ForgedEventError):
        reader.next()


def test_replay_on_another_topic_is_rejected(redis_url: str, tmp_path: Path) -> None:
    source, target = new_topic(), new_topic()
    store = Store("replayed", FileConnector(tmp_path / "objects"))
    produce(redis_url, source, store, ["for the source topic only"])
    with RedisQueueSubscriber(redis_url, [source]) as raw:
        genuine = [bytes(raw.next_message(10)) for _ in range(2)]  # object, end of stream
    with RedisQueuePublisher(redis_url) as publisher:
        for message in genuine:
            publisher.send_message(target, message)
    with consumer(redis_url, target, on_decode_error="skip", timeout=0.5) as reader:
        with pytest.raises(TimeoutError):  # nothing genuine ever comes on the target topic
            reader.next_object()
        assert reader.stats.untrusted == 2
    with consumer(redis_url, target) as strict:
        with RedisQueuePublisher(redis_url) as publisher:
            publisher.send_message(target, genuine[0])
        with pytest.raises(ReplayedEventError, match="copied from another topic"):
            strict.next()


def tamper(store: Store, key: Any, marker: Path) -> None:
    """Replace the bytes under ``key`` with a pickle that runs code, as a storage writer could."""
    connector = type(store.connector).from_config(store.connector.config())
    with Store("attacker-view", connector) as view:
        evil = view.put(Marker(marker))
        data = view.connector.get(evil)
        view.connector.evict(evil)
    connector = store.connector
    if isinstance(connector, FileConnector):
        Path(connector.store_dir, key).write_bytes(data)
    else:
        assert isinstance(connector, RedisConnector)
        client = redis.Redis.from_url(connector.url)
        client.set(connector.prefix + key, data)
        client.close()


@pytest.mark.parametrize("kind", ["file", "redis"])
def test_tampered_object_is_not_deserialized(redis_url: str, tmp_path: Path, kind: str) -> None:
    marker = tmp_path / "code-ran"
    connector = (
        FileConnector(tmp_path / "objects")
        if kind == "file"
        else RedisConnector(redis_url, prefix=f"{uuid.uuid4().hex}:")
    )
    store = Store(f"tamper-{kind}", connector)
    topic = new_topic()
    produce(redis_url, topic, store, ["first", "second", "third"], evict=False)
    with RedisQueueSubscriber(redis_url, [topic]) as raw:
        messages = [bytes(raw.next_message(10)) for _ in range(4)]
    first = decode_event(messages[0], signing_key=KEY)
    assert isinstance(first, NewObjectKeyEvent)
    assert first.digest is not None
    tamper(store, first.key, marker)

    def replay() -> None:
        with RedisQueuePublisher(redis_url) as publisher:
            for message in messages:
                publisher.send_message(topic, message)

    with RedisQueuePublisher(redis_url) as publisher:
        for message in messages:
            publisher.send_message(topic, message)
    with consumer(redis_url, topic) as reader:
        with pytest.raises(TamperedObjectError):
            reader.next_object()
        assert list(reader.iter_objects()) == ["second", "third"]  # the rest is delivered

    replay()
    with consumer(redis_url, topic, on_decode_error="skip", prefetch=4) as reader:
        assert list(reader.iter_objects()) == ["second", "third"]
        assert reader.stats.untrusted == 1

    replay()
    with consumer(redis_url, topic) as reader:
        proxy = reader.next()  # a proxy carries the digest; so does its pickle
        forwarded = pickle.loads(pickle.dumps(proxy))
        with pytest.raises(ProxyResolveError) as caught:
            str(forwarded)
        assert isinstance(caught.value.__cause__, ContentDigestError)
    assert not marker.exists()


def test_signed_stream_over_zeromq_rejects_what_others_publish(tmp_path: Path) -> None:
    """A forged event published on the same ZeroMQ socket is dropped; the key holder's arrive."""
    zmq_shim = pytest.importorskip("proxyflow.shims.zmq")
    topic = new_topic()
    publisher = zmq_shim.ZeroMQPublisher("tcp://127.0.0.1:*")
    subscriber = zmq_shim.ZeroMQSubscriber(publisher.address, [topic])
    reader = StreamConsumer(
        subscriber, timeout=10, signing_key=KEY, trusted_locations=[], on_decode_error="skip"
    )
    publisher.wait_for_subscribers(1, [topic], timeout=10)
    marker = tmp_path / "code-ran"
    evil_dir = tmp_path / "evil"
    with Store("zmq-evil", FileConnector(evil_dir)) as evil:
        key, digest = evil.put_digested(Marker(marker))
    forged = NewObjectKeyEvent(
        b"attacker", topic, 0, encode_store_config(foreign_store(evil_dir)), key, False, {}, digest
    )
    publisher.send_message(topic, encode_event(forged, signing_key=OTHER_KEY))
    store = Store("zmq-signed", FileConnector(tmp_path / "objects"))
    with StreamProducer(publisher, default_store=store, signing_key=KEY) as producer:
        producer.send(topic, {"genuine": True})
        producer.close_topics(topic)
    with reader:
        assert list(reader.iter_objects()) == [{"genuine": True}]
        assert reader.stats.untrusted == 1
    assert not marker.exists()


def test_signed_stream_with_acknowledgements_on_redis_streams(
    redis_url: str, tmp_path: Path
) -> None:
    """Over an acknowledging broker, signed objects arrive, their proxies carry the digest."""
    from pfit.durable import TOPIC, Durable

    broker = Durable("redis", redis_url, visibility=1.0)
    try:
        store = Store(f"signed-ack-{uuid.uuid4().hex[:6]}", FileConnector(tmp_path / "objects"))
        with StreamProducer(broker.publisher(), default_store=store, signing_key=KEY) as p:
            for i in range(3):
                p.send(TOPIC, {"i": i})
            p.close(topics=[TOPIC], stores=False)
        reader = StreamConsumer(
            broker.subscriber(), timeout=10, signing_key=KEY, trusted_locations=[]
        )
        with reader:
            proxies, values = [], []
            for proxy in reader:  # resolved before the next: auto-ack evicts it then
                proxies.append(proxy)
                values.append(dict(proxy))
            assert values == [{"i": 0}, {"i": 1}, {"i": 2}]
            assert reader.stats.untrusted == 0
        forwarded = get_factory(pickle.loads(pickle.dumps(proxies[0])))
        assert isinstance(forwarded, StoreFactory)
        assert forwarded.digest is not None
    finally:
        broker.close()


def test_a_worker_checks_the_digest_of_a_forwarded_proxy(tmp_path: Path) -> None:
    """A dispatcher forwards signed proxies unresolved; a worker process checks the bytes."""
    import multiprocessing
    import queue
    from concurrent.futures import ProcessPoolExecutor

    from pfit.tasks import digest as worker_digest

    from proxyflow.executors import dispatch
    from proxyflow.shims.queue import QueuePublisher, QueueSubscriber

    marker = tmp_path / "code-ran"
    store = Store("signed-workers", FileConnector(tmp_path / "objects"))
    channel: queue.Queue[bytes] = queue.Queue()
    payloads = [bytes([i]) * 1000 for i in range(4)]
    with StreamProducer(QueuePublisher({"t": channel}), default_store=store, signing_key=KEY) as p:
        for i, payload in enumerate(payloads):
            p.send("t", payload, metadata={"i": i})
        p.close(topics=["t"], stores=False)
    first = decode_event(channel.queue[1], signing_key=KEY)  # the second object's event
    assert isinstance(first, NewObjectKeyEvent)
    tamper(store, first.key, marker)
    consumer = StreamConsumer(QueueSubscriber(channel, topics=["t"]), timeout=10, signing_key=KEY)
    context = multiprocessing.get_context("spawn")
    with consumer, ProcessPoolExecutor(2, mp_context=context) as pool:
        results = {r.metadata["i"]: r for r in dispatch(consumer, worker_digest, pool, timeout=60)}
    assert sorted(results) == [0, 1, 2, 3]
    for i in (0, 2, 3):
        assert results[i].get()[0]  # arrived unresolved, resolved in the worker
    failed = results[1].exception
    assert isinstance(failed, ProxyResolveError)
    assert "ContentDigestError" in str(failed)
    assert not marker.exists()


def test_a_tampered_object_is_dead_lettered_not_redelivered(redis_url: str, tmp_path: Path) -> None:
    from pfit.durable import TOPIC, Durable

    marker = tmp_path / "code-ran"
    broker = Durable("redis", redis_url, visibility=1.0)
    try:
        store = Store(f"signed-ack-{uuid.uuid4().hex[:6]}", FileConnector(tmp_path / "objects"))
        with StreamProducer(broker.publisher(), default_store=store, signing_key=KEY) as p:
            key, _ = store.put_digested("placeholder")  # keys are a prefix and a counter
            p.send(TOPIC, "tampered")
            p.send(TOPIC, "fine")
            p.close(topics=[TOPIC], stores=False)
        store.evict(key)
        tampered = f"{key[:16]}{int(key[16:], 16) + 1:x}"  # the next key: the first send's
        assert (tmp_path / "objects" / tampered).exists()
        tamper(store, tampered, marker)
        reader = StreamConsumer(broker.subscriber(), timeout=10, signing_key=KEY)
        with reader:
            with pytest.raises(TamperedObjectError):
                reader.next_object()
            assert reader.next_object() == "fine"
            assert list(reader) == []  # the tampered delivery does not come again
            assert reader.stats.rejected == 1  # dead-lettered
            assert reader.stats.redelivered == 0
        assert not marker.exists()
    finally:
        broker.close()
