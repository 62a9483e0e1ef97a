"""The acknowledging-subscriber suite's checks of many deliveries at once.

[`ConcurrencyChecks`][proxyflow.testing._acking_concurrency.ConcurrencyChecks]
holds the tests of
[`AckingSubscriberContract`][proxyflow.testing.acking_contract.AckingSubscriberContract]
that drive many deliveries together: the order of a topic's first deliveries,
the group sharing the work, and settling from other threads in any order.
The contract inherits them; its helpers and settings are declared here only
for type checking.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, ClassVar

import pytest

from proxyflow.testing._messages import as_bytes

if TYPE_CHECKING:
    from proxyflow.api.protocols import AckingSubscriber, Delivery
    from proxyflow.testing.acking_contract import AckingPubSub

__all__ = ["ConcurrencyChecks"]


class ConcurrencyChecks:
    """Order, work sharing and concurrent settling (mixed into the acking contract)."""

    receive_timeout: ClassVar[float]
    ordering: ClassVar[str]

    if TYPE_CHECKING:

        def receive(self, subscriber: AckingSubscriber, *, redelivery: bool = False) -> Delivery:
            """See ``AckingSubscriberContract.receive``."""

        def assert_quiet(
            self, subscriber: AckingSubscriber, *, past_ack_wait: bool = False
        ) -> None:
            """See ``AckingSubscriberContract.assert_quiet``."""

    def test_first_deliveries_of_a_topic_keep_their_order(self, acking: AckingPubSub) -> None:
        """With ``ordering = "per-topic"``, 50 messages arrive in send order."""
        if self.ordering != "per-topic":
            pytest.skip(f"ordering is {self.ordering}")
        subscriber = acking.subscribe(["a"])
        sent = [b"in-order-%d" % i for i in range(50)]
        for message in sent:
            acking.publisher.send_message("a", message)
        received = []
        for _ in sent:
            delivery = self.receive(subscriber)
            received.append(as_bytes(delivery.message))
            delivery.ack()
        assert received == sent

    def test_the_group_shares_the_work(self, acking: AckingPubSub) -> None:
        """Two subscribers of the group together receive each message exactly once."""
        subscribers = [acking.subscribe(["a"]), acking.subscribe(["a"])]
        sent = {b"job-%d" % i for i in range(30)}
        for message in sorted(sent):
            acking.publisher.send_message("a", message)
        received: list[bytes] = []
        deadline = time.monotonic() + self.receive_timeout * 2
        while len(received) < len(sent) and time.monotonic() < deadline:
            for subscriber in subscribers:
                try:
                    delivery = subscriber.next_delivery(timeout=0.05)
                except TimeoutError:
                    continue
                received.append(as_bytes(delivery.message))
                delivery.ack()
        assert sorted(received) == sorted(sent), "every message exactly once"
        for subscriber in subscribers:
            self.assert_quiet(subscriber)

    def test_deliveries_settle_from_another_thread_in_any_order(self, acking: AckingPubSub) -> None:
        """Settling out of order and from other threads affects only the delivery settled."""
        subscriber = acking.subscribe(["a"])
        for i in range(3):
            acking.publisher.send_message("a", b"m%d" % i)
        first, second, third = (self.receive(subscriber) for _ in range(3))
        settlers = [
            threading.Thread(target=third.ack),
            threading.Thread(target=first.nack),
            threading.Thread(target=second.ack),
        ]
        for settler in settlers:
            settler.start()
            settler.join(self.receive_timeout)
        assert all(d.settled for d in (first, second, third))
        again = self.receive(subscriber)
        assert (as_bytes(again.message), again.delivery_count) == (as_bytes(first.message), 2)
        again.ack()
        self.assert_quiet(subscriber, past_ack_wait=True)
