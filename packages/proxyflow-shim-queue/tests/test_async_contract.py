"""The asyncio queue shim passes the async contract suites, as the sync shim the sync ones."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from proxyflow.shims.queue import AsyncQueuePublisher, AsyncQueueSubscriber
from proxyflow.testing import (
    AsyncPublisherSubscriberContract,
    AsyncPubSub,
    AsyncWorkSharingContract,
)


def _point_to_point() -> AsyncPubSub:
    """A new queue per subscriber, for its topics (as the sync shim's contract test)."""
    queues: dict[str, asyncio.Queue[Any]] = {}

    async def publisher() -> AsyncQueuePublisher:
        return AsyncQueuePublisher(queues)

    async def subscribe(topics: Sequence[str]) -> AsyncQueueSubscriber:
        q: asyncio.Queue[Any] = asyncio.Queue()
        queues.update(dict.fromkeys(topics, q))
        return AsyncQueueSubscriber(q, topics=topics)

    return AsyncPubSub(publisher, subscribe)


class TestAsyncQueueContract(AsyncPublisherSubscriberContract):
    delivery = "point-to-point"

    @pytest.fixture
    def async_pubsub(self) -> AsyncPubSub:
        return _point_to_point()


class TestBoundedAsyncQueueContract(AsyncPublisherSubscriberContract):
    """Bounded queues that never fill in these tests behave the same."""

    delivery = "point-to-point"

    @pytest.fixture
    def async_pubsub(self) -> AsyncPubSub:
        queues: dict[str, asyncio.Queue[Any]] = {}

        async def publisher() -> AsyncQueuePublisher:
            return AsyncQueuePublisher(queues, timeout=5.0)

        async def subscribe(topics: Sequence[str]) -> AsyncQueueSubscriber:
            q: asyncio.Queue[Any] = asyncio.Queue(maxsize=200)
            queues.update(dict.fromkeys(topics, q))
            return AsyncQueueSubscriber(q, topics=topics)

        return AsyncPubSub(publisher, subscribe)


class TestAsyncQueueRoster(AsyncWorkSharingContract):
    """One queue for every topic, shared by all subscribers, as a work-sharing deployment."""

    @pytest.fixture
    def async_pubsub(self) -> AsyncPubSub:
        shared: list[asyncio.Queue[Any]] = []

        def queue() -> asyncio.Queue[Any]:
            if not shared:
                shared.append(asyncio.Queue())
            return shared[0]

        async def publisher() -> AsyncQueuePublisher:
            return AsyncQueuePublisher(dict.fromkeys(("a", "b", "ab"), queue()))

        async def subscribe(topics: Sequence[str]) -> AsyncQueueSubscriber:
            return AsyncQueueSubscriber(queue(), topics=topics)

        return AsyncPubSub(publisher, subscribe)
