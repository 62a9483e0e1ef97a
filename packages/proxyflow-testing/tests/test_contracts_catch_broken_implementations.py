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
    assert outcomes.get("failed", 0) == 3  # the batch test; failing after 1 and 3 objects
    result.stdout.fnmatch_lines(["*test_failed_put_batch_leaves_nothing_stored*"])
    result.stdout.fnmatch_lines(["*test_failed_put_batch_at_any_position_keeps_other_objects*"])


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


def test_worksharing_contract_catches_a_roster_each_subscriber_keeps_alone(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_lonely="""
        import pytest
        from reference_impls import WorkSharingBroker, WorkSharingPublisher, WorkSharingSubscriber
        from proxyflow.testing import PubSub, WorkSharingContract

        class SnapshotSubscriber(WorkSharingSubscriber):
            # Broken: reads the roster once, when it is created.
            def __init__(self, broker, topics):
                super().__init__(broker, topics)
                self._seen = {}

            def roster(self, topic):
                if topic not in self._seen:
                    self._seen[topic] = self._broker.roster(topic)
                return self._seen[topic]

        class TestLonely(WorkSharingContract):
            @pytest.fixture
            def pubsub(self):
                broker = WorkSharingBroker()
                return PubSub(WorkSharingPublisher(broker), lambda t: SnapshotSubscriber(broker, t))
        """
    )
    result = pytester.runpytest_inprocess("-q", "-p", "no:randomly")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 2
    result.stdout.fnmatch_lines(["*test_join_and_leave_are_recorded_once*"])


def test_worksharing_contract_catches_roster_records_sent_as_messages(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_chatty="""
        import pytest
        from reference_impls import WorkSharingBroker, WorkSharingPublisher, WorkSharingSubscriber
        from proxyflow.testing import PubSub, WorkSharingContract

        class ChattyPublisher(WorkSharingPublisher):
            # Broken: announces joins on the topic itself.
            def join(self, topic, producer_id):
                super().join(topic, producer_id)
                self.send_message(topic, b"joined:" + producer_id)

        class TestChatty(WorkSharingContract):
            @pytest.fixture
            def pubsub(self):
                broker = WorkSharingBroker()
                return PubSub(ChattyPublisher(broker), lambda t: WorkSharingSubscriber(broker, t))
        """
    )
    result = pytester.runpytest_inprocess("-q", "-p", "no:randomly")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 1
    result.stdout.fnmatch_lines(["*test_roster_records_are_not_messages*"])


def test_async_worksharing_contract_catches_a_roster_each_subscriber_keeps_alone(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_async_lonely="""
        import pytest
        from reference_impls import (
            AsyncWorkSharingPublisher,
            AsyncWorkSharingSubscriber,
            WorkSharingBroker,
        )
        from proxyflow.testing import AsyncPubSub, AsyncWorkSharingContract

        class SnapshotSubscriber(AsyncWorkSharingSubscriber):
            # Broken: reads the roster once, when it is first asked for.
            seen = None

            async def roster(self, topic):
                if self.seen is None:
                    self.seen = await super().roster(topic)
                return self.seen

        class TestAsyncLonely(AsyncWorkSharingContract):
            @pytest.fixture
            def async_pubsub(self):
                broker = WorkSharingBroker()

                async def publisher():
                    return AsyncWorkSharingPublisher(broker)

                async def subscribe(topics):
                    return SnapshotSubscriber(broker, topics)

                return AsyncPubSub(publisher, subscribe)
        """
    )
    result = pytester.runpytest_inprocess("-q", "-p", "no:randomly")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 2
    result.stdout.fnmatch_lines(["*test_join_and_leave_are_recorded_once*"])


def test_async_worksharing_contract_catches_a_roster_that_is_not_a_coroutine(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_async_blocking="""
        import pytest
        from reference_impls import (
            AsyncWorkSharingPublisher,
            AsyncWorkSharingSubscriber,
            WorkSharingBroker,
        )
        from proxyflow.testing import AsyncPubSub, AsyncWorkSharingContract

        class BlockingRosterSubscriber(AsyncWorkSharingSubscriber):
            # Broken: roster() is a plain method, which would block an event loop.
            def roster(self, topic):
                return self._inner.roster(topic)

        class TestAsyncBlocking(AsyncWorkSharingContract):
            @pytest.fixture
            def async_pubsub(self):
                broker = WorkSharingBroker()

                async def publisher():
                    return AsyncWorkSharingPublisher(broker)

                async def subscribe(topics):
                    return BlockingRosterSubscriber(broker, topics)

                return AsyncPubSub(publisher, subscribe)
        """
    )
    result = pytester.runpytest_inprocess("-q", "-p", "no:randomly")
    result.stdout.fnmatch_lines(["*FAILED*test_roster_methods_are_coroutines*"])
