"""The asyncio ZeroMQ shim passes the async contract suite over real sockets on loopback."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence

import pytest

from proxyflow.shims.zmq import AsyncZeroMQPublisher, AsyncZeroMQSubscriber
from proxyflow.testing import AsyncPublisherSubscriberContract, AsyncPubSub


def _factories(address: str) -> AsyncPubSub:
    made: list[AsyncZeroMQPublisher] = []
    subscribers: list[AsyncZeroMQSubscriber] = []

    def live(topic: str) -> int:
        return sum(1 for s in subscribers if not s.closed and topic in s.topics)

    async def publisher() -> AsyncZeroMQPublisher:
        made.append(AsyncZeroMQPublisher(address))
        return made[0]

    async def subscribe(topics: Sequence[str]) -> AsyncZeroMQSubscriber:
        # Let departures settle, then wait until the newcomer's subscriptions
        # reached the publisher (the slow-joiner problem).
        for topic in topics:
            await made[0].wait_for_subscribers(live(topic), topic, exact=True, timeout=10)
        subscriber = AsyncZeroMQSubscriber(made[0].address, topics)
        subscribers.append(subscriber)
        for topic in topics:
            await made[0].wait_for_subscribers(live(topic), topic, timeout=10)
        return subscriber

    return AsyncPubSub(publisher, subscribe)


class TestAsyncZeroMQTcpContract(AsyncPublisherSubscriberContract):
    delivery = "fan-out"

    @pytest.fixture
    def async_pubsub(self) -> AsyncPubSub:
        return _factories("tcp://127.0.0.1:*")


class TestAsyncZeroMQIpcContract(AsyncPublisherSubscriberContract):
    delivery = "fan-out"

    @pytest.fixture
    def async_pubsub(self) -> Iterator[AsyncPubSub]:
        # ipc paths are limited to ~100 bytes: keep the directory short.
        with tempfile.TemporaryDirectory(prefix="pf-") as folder:
            yield _factories(f"ipc://{folder}/pubsub.sock")
