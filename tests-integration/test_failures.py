"""Failures surface as typed errors, quickly, without hangs or lost data."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from proxyflow.connectors.file import FileConnector
from proxyflow.proxy import ProxyResolveError, extract, get_factory
from proxyflow.shims.queue import QueuePublisher, QueueSubscriber
from proxyflow.store import ObjectMissingError, Store, StoreConfig, UnknownConnectorError
from proxyflow.stream import (
    ConnectorNotAllowedError,
    ConsumerTimeoutError,
    NewObjectKeyEvent,
    StreamConsumer,
    StreamObjectMissingError,
    StreamProducer,
    encode_event,
)
from proxyflow.stream.events import encode_store_config
from proxyflow.testing.redis_server import RedisServer

DEAD_REDIS = "redis://127.0.0.1:1/0"


def _topic() -> str:
    return f"fail-{uuid.uuid4().hex[:8]}"


def _send(url: str) -> None:
    from proxyflow.shims.redis import RedisPublisher

    RedisPublisher(url, connect_timeout=2).send_message("t", b"x")


def _queue_send(url: str) -> None:
    from proxyflow.shims.redis import RedisQueuePublisher

    RedisQueuePublisher(url, connect_timeout=2).send_message("t", b"x")


def _subscribe(url: str) -> None:
    from proxyflow.shims.redis import RedisSubscriber

    RedisSubscriber(url, ["t"], connect_timeout=2)


def _queue_receive(url: str) -> None:
    from proxyflow.shims.redis import RedisQueueSubscriber

    RedisQueueSubscriber(url, ["t"], connect_timeout=2).next_message(timeout=1)


def _connector_put(url: str) -> None:
    from proxyflow.connectors.redis import RedisConnector

    RedisConnector(url, connect_timeout=2).put(b"x")


@pytest.mark.parametrize(
    "action",
    [_send, _queue_send, _subscribe, _queue_receive, _connector_put],
    ids=["publisher", "queue-publisher", "subscriber", "queue-subscriber", "connector"],
)
def test_unreachable_redis_raises_connection_error_quickly(action: Callable[[str], None]) -> None:
    start = time.monotonic()
    with pytest.raises(ConnectionError):
        action(DEAD_REDIS)
    assert time.monotonic() - start < 5


@pytest.fixture
def private_redis() -> Any:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.mark.parametrize("shim", ["redis", "redis-queue"])
def test_redis_broker_lost_mid_stream(private_redis: Any, tmp_path: Path, shim: str) -> None:
    from proxyflow.shims.redis import (
        RedisPublisher,
        RedisQueuePublisher,
        RedisQueueSubscriber,
        RedisSubscriber,
    )

    url, topic = private_redis.url, _topic()
    if shim == "redis":
        # It tries to reconnect for reconnect_timeout seconds, then reports the loss.
        subscriber: Any = RedisSubscriber(url, [topic], reconnect_timeout=1.0, poll_interval=0.05)
        publisher: Any = RedisPublisher(url, socket_timeout=2, connect_timeout=2)
    else:
        subscriber = RedisQueueSubscriber(url, [topic], socket_timeout=2, connect_timeout=2)
        publisher = RedisQueuePublisher(url, socket_timeout=2, connect_timeout=2)
    store = Store(f"lost-{uuid.uuid4().hex[:6]}", FileConnector(tmp_path / "objects"))
    producer = StreamProducer(publisher, default_store=store)
    consumer = StreamConsumer(subscriber, timeout=5)
    for i in range(3):
        producer.send(topic, i, metadata={"index": i})
    assert [extract(consumer.next()) for _ in range(3)] == [0, 1, 2]

    private_redis.stop()
    start = time.monotonic()
    with pytest.raises(ConnectionError):
        consumer.next()
    with pytest.raises(ConnectionError):
        producer.send(topic, 3)
    assert time.monotonic() - start < 10
    # The failed send evicted the object it had stored: nothing is left behind.
    assert [p for p in (tmp_path / "objects").iterdir() if not p.name.startswith(".")] == []
    consumer.close()
    producer.close()


def test_redis_store_lost_mid_stream(private_redis: Any) -> None:
    from proxyflow.connectors.redis import RedisConnector

    channel: queue.Queue[bytes] = queue.Queue()
    topic = _topic()
    connector = RedisConnector(private_redis.url, socket_timeout=2, connect_timeout=2)
    producer = StreamProducer(
        QueuePublisher({topic: channel}), default_store=Store("rlost", connector)
    )
    consumer = StreamConsumer(QueueSubscriber(channel, topics=[topic]), timeout=5)
    producer.send(topic, b"first")
    proxy = consumer.next()
    private_redis.stop()
    start = time.monotonic()
    with pytest.raises(ConnectionError):
        producer.send(topic, b"second")
    with pytest.raises(ProxyResolveError) as info:
        extract(proxy)
    assert isinstance(info.value.__cause__, ConnectionError)
    assert time.monotonic() - start < 10
    consumer.close()
    producer.close()


def test_zmq_address_already_in_use() -> None:
    from proxyflow.shims.zmq import AddressInUseError, ZeroMQPublisher

    with ZeroMQPublisher("tcp://127.0.0.1:*") as first:
        with pytest.raises(AddressInUseError) as info:
            ZeroMQPublisher(first.address)
        assert isinstance(info.value, OSError)
        assert first.address.rsplit(":", 1)[1] in str(info.value)


def test_consumer_timeout_then_still_usable(tmp_path: Path) -> None:
    channel: queue.Queue[bytes] = queue.Queue()
    topic = _topic()
    consumer = StreamConsumer(QueueSubscriber(channel, topics=[topic]), timeout=0.3)
    start = time.monotonic()
    with pytest.raises(ConsumerTimeoutError) as info:
        consumer.next()
    assert isinstance(info.value, TimeoutError)
    assert 0.25 <= time.monotonic() - start < 5
    producer = StreamProducer(QueuePublisher({topic: channel}))
    producer.send(topic, "late", metadata={"index": 0})
    producer.close(topics=[topic])
    assert list(consumer) == ["late"]


def _key_event(topic: str, config: StoreConfig, key: Any) -> bytes:
    event = NewObjectKeyEvent(
        producer_id=b"crafted!",
        topic=topic,
        seq=0,
        store_config=encode_store_config(config),
        key=key,
        evict=True,
        metadata={"index": 0},
    )
    return encode_event(event)


def test_event_naming_an_uninstalled_connector_kind() -> None:
    channel: queue.Queue[bytes] = queue.Queue()
    topic = _topic()
    config = StoreConfig("ghost", "no-such-connector", {"where": "nowhere"})
    channel.put(_key_event(topic, config, "k1"))
    consumer = StreamConsumer(QueueSubscriber(channel, topics=[topic]), timeout=2)
    with pytest.raises(UnknownConnectorError) as info:
        consumer.next()
    assert "no-such-connector" in str(info.value)


def test_event_naming_a_connector_kind_not_allowed(tmp_path: Path) -> None:
    channel: queue.Queue[bytes] = queue.Queue()
    topic = _topic()
    connector = FileConnector(tmp_path / "objects")
    producer = StreamProducer(
        QueuePublisher({topic: channel}), default_store=Store("guarded", connector)
    )
    producer.send(topic, b"payload", metadata={"index": 0})
    consumer = StreamConsumer(
        QueueSubscriber(channel, topics=[topic]), timeout=2, allowed_connectors={"redis"}
    )
    with pytest.raises(ConnectorNotAllowedError) as info:
        consumer.next()
    assert "'file'" in str(info.value)
    assert connector.stats()["objects"] == 1  # the refused object stays where it was stored
    producer.close()


def test_key_evicted_before_resolve(tmp_path: Path) -> None:
    channel: queue.Queue[bytes] = queue.Queue()
    topic = _topic()
    store_dir = tmp_path / "objects"
    producer = StreamProducer(
        QueuePublisher({topic: channel}), default_store=Store("evicted", FileConnector(store_dir))
    )
    producer.send(topic, {"a": 1}, evict=True)
    producer.send(topic, {"b": 2}, evict=True)
    consumer = StreamConsumer(QueueSubscriber(channel, topics=[topic]), timeout=2)
    proxy = consumer.next()
    # Someone else (another process, a buggy second consumer) takes it first.
    FileConnector(store_dir).evict(get_factory(proxy).key)
    with pytest.raises(ProxyResolveError) as info:
        extract(proxy)
    assert isinstance(info.value.__cause__, ObjectMissingError)

    # The resolving helpers of the consumer say the same with a stream error.
    FileConnector(store_dir).evict(_peek_key(channel))
    with pytest.raises(StreamObjectMissingError):
        consumer.next_object()
    producer.close()


def _peek_key(channel: queue.Queue[bytes]) -> Any:
    from proxyflow.stream import decode_event

    message = channel.queue[0]
    event = decode_event(message)
    assert isinstance(event, NewObjectKeyEvent)
    return event.key
