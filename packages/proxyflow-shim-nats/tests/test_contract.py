"""The contract suites of proxyflow-testing, against a real nats-server with JetStream."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from proxyflow.shims.nats import (
    AsyncJetStreamPublisher,
    AsyncJetStreamSubscriber,
    JetStreamPublisher,
    JetStreamSubscriber,
)
from proxyflow.testing import (
    AckingPubSub,
    AckingSubscriberContract,
    AsyncAckingSubscriberContract,
    AsyncPublisherSubscriberContract,
    AsyncPubSub,
    PublisherSubscriberContract,
    PubSub,
)

ACK_WAIT = 1.0
_names = itertools.count()


class _SyncObjects:
    """Makes sync publishers/subscribers on the test's stream and closes them at the end."""

    def __init__(self, url: str, stream: str, shared_durable: bool, **options: Any) -> None:
        self.url, self.stream, self.shared, self.options = url, stream, shared_durable, options
        self.created: list[Any] = []

    def publisher(self) -> JetStreamPublisher:
        publisher = JetStreamPublisher(self.url, stream=self.stream)
        self.created.append(publisher)
        return publisher

    def subscribe(self, topics: Sequence[str]) -> JetStreamSubscriber:
        durable = "group" if self.shared else f"service-{next(_names)}"
        subscriber = JetStreamSubscriber(
            self.url, topics, durable=durable, stream=self.stream, **self.options
        )
        self.created.append(subscriber)
        return subscriber

    def close(self) -> None:
        for obj in self.created:
            obj.close()


def _async_factories(url: str, stream: str, shared_durable: bool, **options: Any) -> AsyncPubSub:
    async def publisher() -> AsyncJetStreamPublisher:
        return await AsyncJetStreamPublisher(url, stream=stream).open()

    async def subscribe(topics: Sequence[str]) -> AsyncJetStreamSubscriber:
        durable = "group" if shared_durable else f"service-{next(_names)}"
        subscriber = AsyncJetStreamSubscriber(
            url, topics, durable=durable, stream=stream, **options
        )
        return await subscriber.open()

    return AsyncPubSub(publisher, subscribe)


class TestWorkSharingContract(PublisherSubscriberContract):
    """Subscribers sharing one durable name share the work."""

    delivery = "work-sharing"

    @pytest.fixture
    def pubsub(self, nats_url: str, stream: str) -> Iterator[PubSub]:
        objects = _SyncObjects(nats_url, stream, shared_durable=True)
        yield PubSub(objects.publisher(), objects.subscribe)
        objects.close()


class TestFanOutContract(PublisherSubscriberContract):
    """Each durable name (each service) gets every message."""

    delivery = "fan-out"

    @pytest.fixture
    def pubsub(self, nats_url: str, stream: str) -> Iterator[PubSub]:
        objects = _SyncObjects(nats_url, stream, shared_durable=False)
        yield PubSub(objects.publisher(), objects.subscribe)
        objects.close()


class TestAckingContract(AckingSubscriberContract):
    ack_wait = ACK_WAIT
    max_deliveries = 3

    @pytest.fixture
    def acking(self, nats_url: str, stream: str) -> Iterator[AckingPubSub]:
        objects = _SyncObjects(
            nats_url, stream, shared_durable=True, ack_wait=ACK_WAIT, max_deliver=3
        )
        yield AckingPubSub(objects.publisher(), objects.subscribe)
        objects.close()


class TestAckingContractWithUnconfirmedAcks(AckingSubscriberContract):
    ack_wait = ACK_WAIT

    @pytest.fixture
    def acking(self, nats_url: str, stream: str) -> Iterator[AckingPubSub]:
        objects = _SyncObjects(
            nats_url, stream, shared_durable=True, ack_wait=ACK_WAIT, confirm_acks=False, batch=1
        )
        yield AckingPubSub(objects.publisher(), objects.subscribe)
        objects.close()


class TestAsyncWorkSharingContract(AsyncPublisherSubscriberContract):
    delivery = "work-sharing"

    @pytest.fixture
    def async_pubsub(self, nats_url: str, stream: str) -> AsyncPubSub:
        return _async_factories(nats_url, stream, shared_durable=True)


class TestAsyncFanOutContract(AsyncPublisherSubscriberContract):
    delivery = "fan-out"

    @pytest.fixture
    def async_pubsub(self, nats_url: str, stream: str) -> AsyncPubSub:
        return _async_factories(nats_url, stream, shared_durable=False)


class TestAsyncAckingContract(AsyncAckingSubscriberContract):
    ack_wait = ACK_WAIT
    max_deliveries = 2

    @pytest.fixture
    def async_acking(self, nats_url: str, stream: str) -> AsyncPubSub:
        return _async_factories(
            nats_url, stream, shared_durable=True, ack_wait=ACK_WAIT, max_deliver=2
        )
