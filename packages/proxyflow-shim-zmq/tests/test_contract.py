from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence

import pytest

from proxyflow.shims.zmq import ZeroMQPublisher, ZeroMQSubscriber
from proxyflow.testing import PublisherSubscriberContract, PubSub


def _harness(address: str) -> Iterator[PubSub]:
    publisher = ZeroMQPublisher(address)
    subscribers: list[ZeroMQSubscriber] = []

    def live(topic: str) -> int:
        return sum(1 for s in subscribers if not s.closed and topic in s.topics)

    def subscribe(topics: Sequence[str]) -> ZeroMQSubscriber:
        # Let departures settle, then wait until the newcomer's subscriptions
        # reached the publisher (the slow-joiner problem).
        for topic in topics:
            publisher.wait_for_subscribers(live(topic), topic, exact=True, timeout=10)
        subscriber = ZeroMQSubscriber(publisher.address, topics)
        subscribers.append(subscriber)
        for topic in topics:
            publisher.wait_for_subscribers(live(topic), topic, timeout=10)
        return subscriber

    yield PubSub(publisher, subscribe)
    for subscriber in subscribers:
        subscriber.close()
    publisher.close()


class TestZeroMQTcpContract(PublisherSubscriberContract):
    delivery = "fan-out"

    @pytest.fixture
    def pubsub(self) -> Iterator[PubSub]:
        yield from _harness("tcp://127.0.0.1:*")


class TestZeroMQIpcContract(PublisherSubscriberContract):
    delivery = "fan-out"

    @pytest.fixture
    def pubsub(self) -> Iterator[PubSub]:
        # ipc paths are limited to ~100 bytes: keep the directory short.
        with tempfile.TemporaryDirectory(prefix="pf-") as folder:
            yield from _harness(f"ipc://{folder}/pubsub.sock")
