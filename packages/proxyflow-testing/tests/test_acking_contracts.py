"""The acking contract suites pass on a correct broker and catch broken ones."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from acking_impls import (
    AckingBroker,
    AsyncMemoryPublisher,
    AsyncMemorySubscriber,
    MemoryAckingPublisher,
    MemoryAckingSubscriber,
)

from proxyflow.testing import (
    AckingPubSub,
    AckingSubscriberContract,
    AsyncAckingSubscriberContract,
    AsyncPubSub,
)

ACK_WAIT = 0.5


class TestMemoryAckingBroker(AckingSubscriberContract):
    ack_wait = ACK_WAIT
    nack_delay = 0.5
    max_deliveries = 3

    @pytest.fixture
    def acking(self) -> AckingPubSub:
        broker = AckingBroker(self.ack_wait, max_deliveries=self.max_deliveries)
        return AckingPubSub(
            MemoryAckingPublisher(broker),
            lambda topics: MemoryAckingSubscriber(broker, topics),
        )


class TestAsyncMemoryAckingBroker(AsyncAckingSubscriberContract):
    ack_wait = ACK_WAIT
    nack_delay = 0.5

    @pytest.fixture
    def async_acking(self) -> AsyncPubSub:
        broker = AckingBroker(self.ack_wait)

        async def publisher() -> AsyncMemoryPublisher:
            return AsyncMemoryPublisher(MemoryAckingPublisher(broker))

        async def subscribe(topics: Sequence[str]) -> AsyncMemorySubscriber:
            return AsyncMemorySubscriber(MemoryAckingSubscriber(broker, topics))

        return AsyncPubSub(publisher, subscribe)


BROKEN = """
import pytest
from acking_impls import *
from proxyflow.testing import AckingPubSub, AckingSubscriberContract

class TestBroken(AckingSubscriberContract):
    ack_wait = 0.5
    nack_delay = 0.5
    max_deliveries = {max_deliveries}

    @pytest.fixture
    def acking(self):
        broker = {broker}(self.ack_wait, max_deliveries=self.max_deliveries)
        return AckingPubSub(MemoryAckingPublisher(broker), lambda t: {subscriber}(broker, t))
"""


@pytest.mark.parametrize(
    ("broker", "subscriber", "caught_by"),
    [
        ("AckingBroker", "subscriber_with(AckDoesNothing)", "test_acked_messages_never_come_back"),
        (
            "AckingBroker",
            "subscriber_with(NackDoesNotCount)",
            "test_nack_redelivers_with_count_plus_one",
        ),
        (
            "AckingBroker",
            "subscriber_with(RejectRedelivers)",
            "test_rejected_messages_never_come_back",
        ),
        ("AckingBroker", "subscriber_with(SettlingTwiceFails)", "test_settling_twice_is_a_no_op"),
        ("AckingBroker", "LosesOnClose", "test_close_gives_back_unsettled_deliveries"),
        ("AckingBroker", "NextMessageDoesNotAck", "test_next_message_acknowledges_on_receipt"),
        (
            "NeverRedeliversUnsettled",
            "MemoryAckingSubscriber",
            "test_unsettled_delivery_comes_back_after_ack_wait_to_another_subscriber",
        ),
    ],
)
def test_acking_contract_catches_a_broken_broker(
    pytester: pytest.Pytester, broker: str, subscriber: str, caught_by: str
) -> None:
    pytester.makepyfile(
        test_broken=BROKEN.format(broker=broker, subscriber=subscriber, max_deliveries=None)
    )
    result = pytester.runpytest_inprocess("-q", "-p", "no:randomly", "-k", caught_by)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*{caught_by}*"])


def test_acking_contract_catches_a_broker_without_a_delivery_limit(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_broken=BROKEN.format(
            broker="AckingBroker", subscriber="MemoryAckingSubscriber", max_deliveries=3
        ).replace("max_deliveries=self.max_deliveries", "max_deliveries=None")
    )
    result = pytester.runpytest_inprocess("-q", "-p", "no:randomly", "-k", "max_deliveries")
    result.assert_outcomes(failed=1)


def test_async_acking_contract_catches_a_broken_async_broker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_broken_async="""
        import pytest
        from acking_impls import *
        from proxyflow.testing import AsyncAckingSubscriberContract, AsyncPubSub

        class TestBrokenAsync(AsyncAckingSubscriberContract):
            ack_wait = 0.5

            @pytest.fixture
            def async_acking(self):
                broker = AckingBroker(self.ack_wait)

                async def publisher():
                    return AsyncMemoryPublisher(MemoryAckingPublisher(broker))

                async def subscribe(topics):
                    return AsyncMemorySubscriber(LosesOnClose(broker, topics))

                return AsyncPubSub(publisher, subscribe)
        """
    )
    result = pytester.runpytest_inprocess(
        "-q", "-p", "no:randomly", "-k", "close_gives_back or async_for"
    )
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*test_close_gives_back_unsettled_deliveries*"])
