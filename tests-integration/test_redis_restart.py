"""A Redis restart in the middle of a stream: loss is reported, never silent.

The test starts its own ``redis-server``, streams through Redis pub/sub with
proxyflow's producer and consumer, kills the server (``SIGKILL``) and starts
it again on the same port while the stream runs. Every object is then either
received, reported to the producer by the ``send`` that failed, or sent before
the crash and followed by later objects, so that a consumer tracking the
producer's sequence numbers sees the gap.
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from proxyflow.shims.redis import (
    BrokerConnectionError,
    MessageNotReceivedError,
    RedisPublisher,
    RedisQueuePublisher,
    RedisQueueSubscriber,
    RedisSubscriber,
)
from proxyflow.stream import StreamConsumer, StreamProducer
from proxyflow.testing.redis_server import RedisServer, RedisServerUnavailableError


@pytest.fixture
def server() -> Iterator[RedisServer]:
    private = RedisServer()
    try:
        private.start()
    except RedisServerUnavailableError as exc:
        pytest.skip(f"no redis-server: {exc}")
    yield private
    private.stop()


def _consume(consumer: StreamConsumer, into: queue.Queue[Any]) -> None:
    try:
        for item in consumer:
            into.put(int(item))
        into.put("end")
    except BaseException as exc:
        into.put(exc)


def test_pubsub_restart_mid_stream_loses_nothing_silently(server: RedisServer) -> None:
    topic = f"restart-{uuid.uuid4().hex[:8]}"
    subscriber = RedisSubscriber(server.url, topic, poll_interval=0.05)
    consumer = StreamConsumer(subscriber, timeout=30)
    got: queue.Queue[Any] = queue.Queue()
    reader = threading.Thread(target=_consume, args=(consumer, got), daemon=True)
    reader.start()
    publisher = RedisPublisher(server.url, min_receivers=1, socket_timeout=2, connect_timeout=2)
    producer = StreamProducer(publisher)

    kill_at, sent_ok, reported = 100, [], []
    delivered_after_restart = 0
    index = 0
    while delivered_after_restart < 100:  # until the subscriber is back, and then some
        assert index < 100_000, "the subscriber never came back"
        if index == kill_at:
            server.kill()
            server.restart()
        try:
            producer.send(topic, index)
            sent_ok.append(index)
            delivered_after_restart += index > kill_at
        except (MessageNotReceivedError, BrokerConnectionError):
            reported.append(index)
        index += 1
    producer.close(topics=[topic])
    reader.join(30)
    assert not reader.is_alive(), "the consumer never saw the end of the stream"
    items = []
    while not got.empty():
        items.append(got.get_nowait())
    assert items[-1] == "end", items[-1]
    received = items[:-1]

    assert reported, "the restart must have been reported to the producer"
    assert subscriber.reconnects == 1
    assert received == sorted(received), "in order"
    assert set(received) <= set(sent_ok), "nothing reported as failed arrives"
    missing = sorted(set(sent_ok) - set(received))
    assert all(i < kill_at for i in missing), "after the restart every confirmed send arrives"
    assert all(i < max(received) for i in missing), "each loss is a gap a consumer can see"
    assert consumer.stats.lost == len(missing), "every loss is counted"
    publisher.close()


def test_a_list_restart_is_never_silent(server: RedisServer) -> None:
    """At most once: the backlog is gone, and both sides say something went wrong."""
    topic = f"restart-q-{uuid.uuid4().hex[:8]}"
    publisher = RedisQueuePublisher(server.url, socket_timeout=2, connect_timeout=2)
    producer = StreamProducer(publisher)
    for index in range(50):
        producer.send(topic, index)
    worker = RedisQueueSubscriber(server.url, topic, socket_timeout=2, connect_timeout=2)
    consumer = StreamConsumer(worker, timeout=10)
    assert consumer.next_object() == 0
    server.kill()
    server.restart()
    with pytest.raises(BrokerConnectionError):
        for _ in consumer:  # the 49 waiting objects are gone: iteration fails, never just ends
            pass
    with pytest.raises(BrokerConnectionError):
        producer.send(topic, 50)
    consumer.close()
    publisher.close()
