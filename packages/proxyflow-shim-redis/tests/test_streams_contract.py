"""The contract suites of proxyflow-testing, against a real Redis, for the Streams classes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from proxyflow.shims.redis import (
    AsyncRedisStreamPublisher,
    AsyncRedisStreamSubscriber,
    RedisStreamPublisher,
    RedisStreamSubscriber,
)
from proxyflow.testing import (
    AckingPubSub,
    AckingSubscriberContract,
    AsyncAckingSubscriberContract,
    AsyncPublisherSubscriberContract,
    AsyncPubSub,
    PublisherSubscriberContract,
    PubSub,
    WorkSharingContract,
)

ACK_WAIT = 1.0
_groups = itertools.count()


class _Objects:
    """Makes publishers and subscribers under the test's prefix; closes them at the end."""

    def __init__(self, url: str, prefix: str, shared_group: bool, **options: Any) -> None:
        self.url, self.prefix, self.shared, self.options = url, prefix, shared_group, options
        self.created: list[Any] = []

    def publisher(self, **options: Any) -> RedisStreamPublisher:
        publisher = RedisStreamPublisher(self.url, prefix=self.prefix, **options)
        self.created.append(publisher)
        return publisher

    def subscribe(self, topics: Sequence[str]) -> RedisStreamSubscriber:
        group = "group" if self.shared else f"service-{next(_groups)}"
        subscriber = RedisStreamSubscriber(
            self.url, topics, group=group, prefix=self.prefix, **self.options
        )
        self.created.append(subscriber)
        return subscriber

    def close(self) -> None:
        for obj in self.created:
            obj.close()


class TestWorkSharingContract(PublisherSubscriberContract):
    """Subscribers of one consumer group share the work."""

    delivery = "work-sharing"

    @pytest.fixture
    def pubsub(self, redis_url: str, prefix: str) -> Iterator[PubSub]:
        objects = _Objects(redis_url, prefix, shared_group=True)
        yield PubSub(objects.publisher(), objects.subscribe)
        objects.close()


class TestRosterContract(WorkSharingContract):
    """The producers' roster, shared by every subscriber of the group."""

    @pytest.fixture
    def pubsub(self, redis_url: str, prefix: str) -> Iterator[PubSub]:
        objects = _Objects(redis_url, prefix, shared_group=True)
        yield PubSub(objects.publisher(max_unconfirmed=16), objects.subscribe)
        objects.close()


class TestFanOutContract(PublisherSubscriberContract):
    """Each consumer group (each service) gets every message."""

    delivery = "fan-out"

    @pytest.fixture
    def pubsub(self, redis_url: str, prefix: str) -> Iterator[PubSub]:
        objects = _Objects(redis_url, prefix, shared_group=False)
        yield PubSub(objects.publisher(max_unconfirmed=64), objects.subscribe)
        objects.close()


class TestAckingContract(AckingSubscriberContract):
    ack_wait = ACK_WAIT
    max_deliveries = 3

    @pytest.fixture
    def acking(self, redis_url: str, prefix: str) -> Iterator[AckingPubSub]:
        objects = _Objects(
            redis_url, prefix, shared_group=True, visibility_timeout=ACK_WAIT, max_deliveries=3
        )
        yield AckingPubSub(objects.publisher(), objects.subscribe)
        objects.close()


class TestAckingContractWithDeferredAcks(AckingSubscriberContract):
    """``confirm_acks=False``: acknowledgements ride with the next read."""

    ack_wait = ACK_WAIT

    @pytest.fixture
    def acking(self, redis_url: str, prefix: str) -> Iterator[AckingPubSub]:
        objects = _Objects(
            redis_url,
            prefix,
            shared_group=True,
            visibility_timeout=ACK_WAIT,
            max_deliveries=None,
            confirm_acks=False,
            batch=4,
        )
        yield AckingPubSub(objects.publisher(), objects.subscribe)
        objects.close()


def _async_factories(url: str, prefix: str, shared_group: bool, **options: Any) -> AsyncPubSub:
    async def publisher() -> AsyncRedisStreamPublisher:
        return await AsyncRedisStreamPublisher(url, prefix=prefix).open()

    async def subscribe(topics: Sequence[str]) -> AsyncRedisStreamSubscriber:
        group = "group" if shared_group else f"service-{next(_groups)}"
        subscriber = AsyncRedisStreamSubscriber(url, topics, group=group, prefix=prefix, **options)
        return await subscriber.open()

    return AsyncPubSub(publisher, subscribe)


class TestAsyncWorkSharingContract(AsyncPublisherSubscriberContract):
    delivery = "work-sharing"

    @pytest.fixture
    def async_pubsub(self, redis_url: str, prefix: str) -> AsyncPubSub:
        return _async_factories(redis_url, prefix, shared_group=True)


class TestAsyncFanOutContract(AsyncPublisherSubscriberContract):
    delivery = "fan-out"

    @pytest.fixture
    def async_pubsub(self, redis_url: str, prefix: str) -> AsyncPubSub:
        return _async_factories(redis_url, prefix, shared_group=False)


class TestAsyncAckingContract(AsyncAckingSubscriberContract):
    ack_wait = ACK_WAIT
    max_deliveries = 2

    @pytest.fixture
    def async_acking(self, redis_url: str, prefix: str) -> AsyncPubSub:
        return _async_factories(
            redis_url, prefix, shared_group=True, visibility_timeout=ACK_WAIT, max_deliveries=2
        )
