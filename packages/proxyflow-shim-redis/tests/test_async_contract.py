"""The asyncio pub/sub and list-queue shims through the async contract suites."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from proxyflow.shims.redis import (
    AsyncRedisPublisher,
    AsyncRedisQueuePublisher,
    AsyncRedisQueueSubscriber,
    AsyncRedisSubscriber,
)
from proxyflow.testing import (
    AsyncPublisherSubscriberContract,
    AsyncPubSub,
    AsyncWorkSharingContract,
)


class TestAsyncRedisPubSubContract(AsyncPublisherSubscriberContract):
    delivery = "fan-out"

    @pytest.fixture
    def async_pubsub(self, redis_url: str) -> AsyncPubSub:
        async def publisher() -> AsyncRedisPublisher:
            return await AsyncRedisPublisher(redis_url).open()

        async def subscribe(topics: Sequence[str]) -> AsyncRedisSubscriber:
            return await AsyncRedisSubscriber(redis_url, topics).open()

        return AsyncPubSub(publisher, subscribe)


def _queue(redis_url: str, prefix: str) -> AsyncPubSub:
    async def publisher() -> AsyncRedisQueuePublisher:
        return await AsyncRedisQueuePublisher(redis_url, prefix=prefix).open()

    async def subscribe(topics: Sequence[str]) -> AsyncRedisQueueSubscriber:
        return await AsyncRedisQueueSubscriber(redis_url, topics, prefix=prefix).open()

    return AsyncPubSub(publisher, subscribe)


class TestAsyncRedisQueueContract(AsyncPublisherSubscriberContract):
    delivery = "work-sharing"

    @pytest.fixture
    def async_pubsub(self, redis_url: str, prefix: str) -> AsyncPubSub:
        return _queue(redis_url, prefix)


class TestAsyncRedisQueueRoster(AsyncWorkSharingContract):
    # Each test has a key prefix of its own, so rosters never leak between tests.
    @pytest.fixture
    def async_pubsub(self, redis_url: str, prefix: str) -> AsyncPubSub:
        return _queue(redis_url, prefix)
