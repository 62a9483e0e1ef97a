"""The contract suites pass on minimal correct implementations (no false alarms)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from reference_impls import (
    DictConnector,
    FanOutBroker,
    MemoryPublisher,
    MemorySubscriber,
    WorkSharingBroker,
    WorkSharingPublisher,
    WorkSharingSubscriber,
)

from proxyflow.testing import (
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


class TestFanOutBroker(PublisherSubscriberContract):
    delivery = "fan-out"
    closed_publisher_errors = (RuntimeError,)

    @pytest.fixture
    def pubsub(self) -> PubSub:
        broker = FanOutBroker()
        return PubSub(MemoryPublisher(broker), lambda topics: MemorySubscriber(broker, topics))


class TestWorkSharingBroker(WorkSharingContract):
    @pytest.fixture
    def pubsub(self) -> PubSub:
        broker = WorkSharingBroker()
        return PubSub(
            WorkSharingPublisher(broker), lambda topics: WorkSharingSubscriber(broker, topics)
        )
