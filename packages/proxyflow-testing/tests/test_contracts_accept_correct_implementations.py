"""The contract suites pass on minimal correct implementations (no false alarms)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from reference_impls import (
    AsyncFanOutPublisher,
    AsyncFanOutSubscriber,
    AsyncWorkSharingPublisher,
    AsyncWorkSharingSubscriber,
    DictConnector,
    FanOutBroker,
    MemoryPublisher,
    MemorySubscriber,
    WorkSharingBroker,
    WorkSharingPublisher,
    WorkSharingSubscriber,
)

from proxyflow.testing import (
    AsyncPublisherSubscriberContract,
    AsyncPubSub,
    AsyncWorkSharingContract,
    ConnectorContract,
    PublisherSubscriberContract,
    PubSub,
    WorkSharingContract,
)

_names = itertools.count()


class TestDictConnector(ConnectorContract):
    supports_cross_process = False

    @pytest.fixture
    def connector(self) -> Any:
        return DictConnector(f"dict-{next(_names)}")

    @contextlib.contextmanager
    def fail_writes_after(self, connector: Any, count: int, size: int) -> Iterator[None]:
        connector.room = count
        try:
            yield
        finally:
            connector.room = None


class TestFanOutBroker(PublisherSubscriberContract):
    delivery = "fan-out"
    closed_publisher_errors = (RuntimeError,)

    @pytest.fixture
    def pubsub(self) -> PubSub:
        broker = FanOutBroker()
        return PubSub(MemoryPublisher(broker), lambda topics: MemorySubscriber(broker, topics))


class TestAsyncFanOutBroker(AsyncPublisherSubscriberContract):
    delivery = "fan-out"
    closed_publisher_errors = (RuntimeError,)

    @pytest.fixture
    def async_pubsub(self) -> AsyncPubSub:
        broker = FanOutBroker()

        async def publisher() -> AsyncFanOutPublisher:
            return AsyncFanOutPublisher(broker)

        async def subscribe(topics: Any) -> AsyncFanOutSubscriber:
            return AsyncFanOutSubscriber(broker, topics)

        return AsyncPubSub(publisher, subscribe)


class TestWorkSharingBroker(WorkSharingContract):
    @pytest.fixture
    def pubsub(self) -> PubSub:
        broker = WorkSharingBroker()
        return PubSub(
            WorkSharingPublisher(broker), lambda topics: WorkSharingSubscriber(broker, topics)
        )


class TestAsyncWorkSharingBroker(AsyncWorkSharingContract):
    @pytest.fixture
    def async_pubsub(self) -> AsyncPubSub:
        broker = WorkSharingBroker()

        async def publisher() -> AsyncWorkSharingPublisher:
            return AsyncWorkSharingPublisher(broker)

        async def subscribe(topics: Any) -> AsyncWorkSharingSubscriber:
            return AsyncWorkSharingSubscriber(broker, topics)

        return AsyncPubSub(publisher, subscribe)
