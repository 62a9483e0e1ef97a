from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from proxyflow.shims.redis import (
    RedisPublisher,
    RedisQueuePublisher,
    RedisQueueSubscriber,
    RedisSubscriber,
)
from proxyflow.testing import PublisherSubscriberContract, PubSub, WorkSharingContract


class TestRedisPubSubContract(PublisherSubscriberContract):
    # Channels are server-wide, but pub/sub keeps nothing for absent subscribers
    # and every fixture closes its subscribers, so tests cannot see each other.
    delivery = "fan-out"

    @pytest.fixture
    def pubsub(self, redis_url: str) -> Iterator[PubSub]:
        subscribers: list[RedisSubscriber] = []
        publisher = RedisPublisher(redis_url)

        def subscribe(topics: Sequence[str]) -> RedisSubscriber:
            subscriber = RedisSubscriber(redis_url, topics)
            subscribers.append(subscriber)
            return subscriber

        yield PubSub(publisher, subscribe)
        publisher.close()
        for subscriber in subscribers:
            subscriber.close()


def _queue_harness(redis_url: str, prefix: str, max_unconfirmed: int = 0) -> Iterator[PubSub]:
    subscribers: list[RedisQueueSubscriber] = []
    publisher = RedisQueuePublisher(redis_url, prefix=prefix, max_unconfirmed=max_unconfirmed)

    def subscribe(topics: Sequence[str]) -> RedisQueueSubscriber:
        subscriber = RedisQueueSubscriber(redis_url, topics, prefix=prefix)
        subscribers.append(subscriber)
        return subscriber

    yield PubSub(publisher, subscribe)
    for topic in ("a", "b", "ab"):
        publisher.clear_roster(topic)
    publisher.close()
    for subscriber in subscribers:
        subscriber.close()


class TestRedisQueueRoster(WorkSharingContract):
    @pytest.fixture
    def pubsub(self, redis_url: str, prefix: str) -> Iterator[PubSub]:
        yield from _queue_harness(redis_url, prefix)


class TestRedisQueueRosterPipelined(WorkSharingContract):
    """``leave`` first confirms the sends still waiting for Redis's reply."""

    @pytest.fixture
    def pubsub(self, redis_url: str, prefix: str) -> Iterator[PubSub]:
        yield from _queue_harness(redis_url, prefix, max_unconfirmed=64)


class TestRedisQueueContract(PublisherSubscriberContract):
    delivery = "work-sharing"

    @pytest.fixture
    def pubsub(self, redis_url: str, prefix: str) -> Iterator[PubSub]:
        subscribers: list[RedisQueueSubscriber] = []
        publisher = RedisQueuePublisher(redis_url, prefix=prefix)

        def subscribe(topics: Sequence[str]) -> RedisQueueSubscriber:
            subscriber = RedisQueueSubscriber(redis_url, topics, prefix=prefix)
            subscribers.append(subscriber)
            return subscriber

        yield PubSub(publisher, subscribe)
        publisher.close()
        for subscriber in subscribers:
            subscriber.close()
