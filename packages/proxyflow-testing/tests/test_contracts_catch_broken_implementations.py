"""The contract suites fail on a broken implementation (they can fail at all)."""

from __future__ import annotations

import pytest


def test_connector_contract_catches_a_connector_that_does_not_evict(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_broken="""
        import itertools
        import pytest
        from reference_impls import ForgetfulConnector
        from proxyflow.testing import ConnectorContract

        names = itertools.count()

        class TestForgetful(ConnectorContract):
            supports_cross_process = False

            @pytest.fixture
            def connector(self):
                return ForgetfulConnector(f"forgetful-{next(names)}")
        """
    )
    result = pytester.runpytest_inprocess("-q", "-p", "no:randomly")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 2
    result.stdout.fnmatch_lines(["*test_get_with_evict_returns_and_removes*"])


def test_connector_contract_catches_a_batch_that_leaves_orphans(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_orphans="""
        import contextlib
        import itertools
        import pytest
        from reference_impls import OrphaningConnector
        from proxyflow.testing import ConnectorContract

        names = itertools.count()

        class TestOrphaning(ConnectorContract):
            supports_cross_process = False

            @pytest.fixture
            def connector(self):
                return OrphaningConnector(f"orphaning-{next(names)}")

            @contextlib.contextmanager
            def fail_writes_after(self, connector, count, size):
                connector.room = count
                yield
                connector.room = None
        """
    )
    result = pytester.runpytest_inprocess("-q", "-p", "no:randomly")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 1
    result.stdout.fnmatch_lines(["*test_failed_put_batch_leaves_nothing_stored*"])


def test_pubsub_contract_catches_a_broker_that_leaks_topics(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_leaky="""
        import pytest
        from reference_impls import FanOutBroker, MemoryPublisher, MemorySubscriber
        from proxyflow.testing import PubSub, PublisherSubscriberContract

        class LeakyPublisher(MemoryPublisher):
            def send_message(self, topic, message):
                if self._closed:
                    raise RuntimeError("publisher closed")
                # Prefix matching, as raw ZeroMQ does: topic "ab" reaches "a".
                for subscriber in list(self._broker.subscribers):
                    if any(topic.startswith(t) for t in subscriber.topics):
                        subscriber.inbox.put(bytes(message))

        class TestLeaky(PublisherSubscriberContract):
            delivery = "fan-out"
            closed_publisher_errors = (RuntimeError,)

            @pytest.fixture
            def pubsub(self):
                broker = FanOutBroker()
                return PubSub(LeakyPublisher(broker), lambda t: MemorySubscriber(broker, t))
        """
    )
    result = pytester.runpytest_inprocess("-q", "-p", "no:randomly")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 1
    result.stdout.fnmatch_lines(["*test_topics_are_isolated*"])
