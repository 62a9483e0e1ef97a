"""A reusable pytest suite for acknowledging subscribers (``proxyflow.api.AckingSubscriber``).

Subclass
[`AckingSubscriberContract`][proxyflow.testing.acking_contract.AckingSubscriberContract],
set ``ack_wait`` to the visibility timeout your fixture configures (keep it short: about a
second), and supply one fixture, ``acking``, returning an
[`AckingPubSub`][proxyflow.testing.acking_contract.AckingPubSub] wired to a
real durable broker:

* ``publisher``: one open publisher;
* ``subscribe(topics)``: returns a new, ready subscriber of ``topics``. All
  subscribers made by one fixture belong to **one group** (one durable name,
  one consumer group): they share the work, so a message one of them gives
  back can reach another.

The fixture gives each test a fresh group and fresh topics (a stream or a key
prefix of its own), owns what it creates and closes it on teardown (the tests
may close things first, so closing must be idempotent). The suite uses the
topics ``"a"`` and ``"b"``.

The guarantees checked, one test each (or a few):

* a delivery starts with ``delivery_count == 1`` and is not settled;
* an acknowledged message never comes back, not even after ``ack_wait``;
* a nacked message comes back with ``delivery_count`` one higher, not before
  the delay given to ``nack``;
* a delivery neither acknowledged nor nacked comes back after ``ack_wait``,
  to another subscriber of the group;
* a rejected message never comes back;
* settling a settled delivery does nothing;
* plain ``next_message`` (and iteration) acknowledges on receipt;
* ``close()`` gives back the deliveries it holds: the group gets them again;
* messages sent before any subscriber existed are kept for the group;
* first deliveries of one topic keep their order (if ``ordering`` says so);
* the group shares the work; deliveries settle from any thread, in any order;
* (subscribers with ``backlog(topic)``, ``proxyflow.api.DrainableSubscriber``)
  the backlog counts what the group has not acknowledged and drains to zero.

Example:
    ```python
    import pytest

    from proxyflow.shims.nats import JetStreamPublisher, JetStreamSubscriber
    from proxyflow.testing import AckingPubSub, AckingSubscriberContract


    class TestJetStream(AckingSubscriberContract):
        ack_wait = 1.0

        @pytest.fixture
        def acking(self, nats_url, fresh_stream):
            def subscribe(topics):
                return JetStreamSubscriber(
                    nats_url, topics, durable="group", stream=fresh_stream, ack_wait=self.ack_wait
                )

            yield AckingPubSub(JetStreamPublisher(nats_url, stream=fresh_stream), subscribe)
    ```
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeAlias

import pytest

from proxyflow.api import GroupBacklog
from proxyflow.api.protocols import AckingSubscriber, Delivery
from proxyflow.testing._acking_concurrency import ConcurrencyChecks
from proxyflow.testing._messages import as_bytes
from proxyflow.testing.pubsub_contract import PublisherLike

__all__ = ["ORDERINGS", "AckingPubSub", "AckingSubscriberContract", "DeliveryLike"]

ORDERINGS = ("per-topic", "none")
"""The values `AckingSubscriberContract.ordering` may take."""


DeliveryLike: TypeAlias = Delivery
"""The delivery shape the suite drives.

It is [`proxyflow.api.Delivery`][proxyflow.api.protocols.Delivery],
the protocol every shim satisfies.
"""

AckingSubscriberLike: TypeAlias = AckingSubscriber
"""The subscriber shape the suite drives.

It is [`proxyflow.api.AckingSubscriber`][proxyflow.api.protocols.AckingSubscriber],
the protocol every shim satisfies.
"""


@dataclass
class AckingPubSub:
    """What an ``acking`` fixture returns.

    Attributes:
        publisher: An open publisher on the broker under test.
        subscribe: Makes a new, ready subscriber of the given topics, in the
            fixture's one group.
    """

    publisher: PublisherLike
    subscribe: Callable[[Sequence[str]], AckingSubscriberLike]


class AckingSubscriberContract(ConcurrencyChecks):
    """Acknowledgement guarantees of a durable broker shim; subclass it and provide ``acking``.

    Attributes:
        ack_wait: The visibility timeout (seconds) the fixture's subscribers
            use: an unsettled delivery is handed out again after it.
        receive_timeout: Seconds a test waits for a message that must come
            (on top of ``ack_wait`` where a redelivery is awaited).
        quiet_timeout: Seconds a test waits to show that nothing (else) comes.
        nack_delay: The delay given to ``nack`` in the delayed-redelivery test.
        ordering: ``"per-topic"`` (first deliveries of one topic come in send
            order) or ``"none"``.
        max_deliveries: If the fixture's subscribers stop delivering a message
            after this many deliveries (at least 2), say so to have it checked
            (``None``: no limit).
    """

    ack_wait: ClassVar[float] = 1.0
    receive_timeout: ClassVar[float] = 5.0
    quiet_timeout: ClassVar[float] = 0.3
    nack_delay: ClassVar[float] = 1.0
    ordering: ClassVar[str] = "per-topic"
    max_deliveries: ClassVar[int | None] = None

    # -- helpers ---------------------------------------------------------------------

    def receive(
        self, subscriber: AckingSubscriberLike, *, redelivery: bool = False
    ) -> DeliveryLike:
        """Return the next delivery; wait past ``ack_wait`` if it is a redelivery."""
        extra = self.ack_wait if redelivery else 0.0
        return subscriber.next_delivery(timeout=self.receive_timeout + extra)

    def assert_quiet(
        self, subscriber: AckingSubscriberLike, *, past_ack_wait: bool = False
    ) -> None:
        """Assert nothing arrives within ``quiet_timeout`` (plus 1.5 ``ack_wait`` if asked)."""
        wait = self.quiet_timeout + (1.5 * self.ack_wait if past_ack_wait else 0.0)
        try:
            extra = subscriber.next_delivery(timeout=wait)
        except TimeoutError:
            return
        pytest.fail(
            f"unexpected delivery {as_bytes(extra.message)[:40]!r} "
            f"(delivery_count={extra.delivery_count})"
        )

    # -- conformance -----------------------------------------------------------------

    def test_ordering_attribute_is_known(self) -> None:
        """The subclass declares one of the known orderings."""
        assert self.ordering in ORDERINGS

    def test_subscriber_and_delivery_have_protocol_members(self, acking: AckingPubSub) -> None:
        """``next_delivery(timeout)`` returns a delivery with every protocol member."""
        subscriber = acking.subscribe(["a"])
        assert "timeout" in inspect.signature(subscriber.next_delivery).parameters
        acking.publisher.send_message("a", b"shape")
        delivery = self.receive(subscriber)
        for name in ("message", "topic", "delivery_count", "settled"):
            assert hasattr(delivery, name), f"delivery lacks {name}"
        for name in ("ack", "nack", "reject"):
            assert callable(getattr(delivery, name, None)), f"delivery lacks {name}()"
        assert "delay" in inspect.signature(delivery.nack).parameters
        delivery.ack()

    # -- first delivery and ack ------------------------------------------------------

    def test_first_delivery_is_counted_once_and_unsettled(self, acking: AckingPubSub) -> None:
        """A fresh delivery carries the message, its topic, ``delivery_count == 1``."""
        subscriber = acking.subscribe(["a", "b"])
        acking.publisher.send_message("b", b"first")
        delivery = self.receive(subscriber)
        assert as_bytes(delivery.message) == b"first"
        assert delivery.topic == "b"
        assert delivery.delivery_count == 1
        assert delivery.settled is False
        delivery.ack()
        assert delivery.settled is True

    def test_acked_messages_never_come_back(self, acking: AckingPubSub) -> None:
        """Acknowledged messages are not delivered again, even after ``ack_wait``."""
        subscriber = acking.subscribe(["a"])
        for i in range(3):
            acking.publisher.send_message("a", b"acked-%d" % i)
        for _ in range(3):
            self.receive(subscriber).ack()
        self.assert_quiet(subscriber, past_ack_wait=True)
        subscriber.close()
        self.assert_quiet(acking.subscribe(["a"]))

    def test_messages_sent_before_any_subscriber_are_kept(self, acking: AckingPubSub) -> None:
        """A durable broker keeps what was sent before the group's first subscriber."""
        acking.publisher.send_message("a", b"early")
        delivery = self.receive(acking.subscribe(["a"]))
        assert as_bytes(delivery.message) == b"early"
        delivery.ack()

    # -- nack and the visibility timeout ---------------------------------------------

    def test_nack_redelivers_with_count_plus_one(self, acking: AckingPubSub) -> None:
        """``nack()`` hands the message out again, each time with ``delivery_count`` one higher."""
        subscriber = acking.subscribe(["a"])
        acking.publisher.send_message("a", b"again")
        rounds = min(3, self.max_deliveries or 3)
        for expected in range(1, rounds + 1):
            delivery = self.receive(subscriber)
            assert (as_bytes(delivery.message), delivery.delivery_count) == (b"again", expected)
            assert delivery.topic == "a"
            if expected < rounds:
                delivery.nack()
        delivery.ack()
        self.assert_quiet(subscriber)

    def test_nack_with_delay_is_not_redelivered_before_the_delay(
        self, acking: AckingPubSub
    ) -> None:
        """``nack(delay)`` keeps the message back for ``delay`` seconds, then redelivers it."""
        subscriber = acking.subscribe(["a"])
        acking.publisher.send_message("a", b"later")
        self.receive(subscriber).nack(delay=self.nack_delay)
        with pytest.raises(TimeoutError):
            subscriber.next_delivery(timeout=self.nack_delay / 2)
        delivery = subscriber.next_delivery(timeout=self.nack_delay + self.receive_timeout)
        assert (as_bytes(delivery.message), delivery.delivery_count) == (b"later", 2)
        delivery.ack()

    def test_unsettled_delivery_comes_back_after_ack_wait_to_another_subscriber(
        self, acking: AckingPubSub
    ) -> None:
        """A delivery held past ``ack_wait`` without settling is handed to another subscriber."""
        holder, other = acking.subscribe(["a"]), acking.subscribe(["a"])
        acking.publisher.send_message("a", b"held")
        held = self.receive(holder)
        assert held.delivery_count == 1
        again = self.receive(other, redelivery=True)
        assert (as_bytes(again.message), again.delivery_count) == (b"held", 2)
        again.ack()
        self.assert_quiet(other, past_ack_wait=True)

    def test_max_deliveries_stops_redelivery(self, acking: AckingPubSub) -> None:
        """After ``max_deliveries`` deliveries the group is not given the message again."""
        if self.max_deliveries is None:
            pytest.skip("the fixture sets no delivery limit")
        subscriber = acking.subscribe(["a"])
        acking.publisher.send_message("a", b"poison")
        for expected in range(1, self.max_deliveries + 1):
            delivery = self.receive(subscriber)
            assert delivery.delivery_count == expected
            delivery.nack()
        self.assert_quiet(subscriber, past_ack_wait=True)

    # -- reject and double settling --------------------------------------------------

    def test_rejected_messages_never_come_back(self, acking: AckingPubSub) -> None:
        """``reject()`` removes the message for the whole group."""
        subscriber, other = acking.subscribe(["a"]), acking.subscribe(["a"])
        acking.publisher.send_message("a", b"bad")
        delivery = self.receive(subscriber)
        delivery.reject()
        assert delivery.settled is True
        self.assert_quiet(subscriber, past_ack_wait=True)
        self.assert_quiet(other)

    def test_settling_twice_is_a_no_op(self, acking: AckingPubSub) -> None:
        """A second ``ack``/``nack``/``reject`` on a settled delivery changes nothing."""
        subscriber = acking.subscribe(["a"])
        acking.publisher.send_message("a", b"once")
        acking.publisher.send_message("a", b"twice")
        acked = self.receive(subscriber)
        acked.ack()
        acked.ack()
        acked.nack()
        acked.reject()
        assert acked.settled is True
        nacked = self.receive(subscriber)
        nacked.nack()
        nacked.nack()
        nacked.ack()
        again = self.receive(subscriber)
        assert (as_bytes(again.message), again.delivery_count) == (as_bytes(nacked.message), 2)
        again.ack()
        self.assert_quiet(subscriber, past_ack_wait=True)

    # -- plain subscriber methods ----------------------------------------------------

    def test_next_message_acknowledges_on_receipt(self, acking: AckingPubSub) -> None:
        """Plain ``next_message`` and iteration acknowledge what they return."""
        subscriber = acking.subscribe(["a"])
        acking.publisher.send_message("a", b"plain")
        acking.publisher.send_message("a", b"iterated")
        assert as_bytes(subscriber.next_message(timeout=self.receive_timeout)) == b"plain"
        assert as_bytes(next(iter(subscriber))) == b"iterated"
        self.assert_quiet(subscriber, past_ack_wait=True)
        subscriber.close()
        self.assert_quiet(acking.subscribe(["a"]))

    # -- close -----------------------------------------------------------------------

    def test_close_gives_back_unsettled_deliveries(self, acking: AckingPubSub) -> None:
        """Deliveries still held at ``close()`` are delivered again to the group."""
        closing = acking.subscribe(["a"])
        for name in (b"kept-1", b"kept-2"):
            acking.publisher.send_message("a", name)
        held = [self.receive(closing), self.receive(closing)]
        assert sorted(as_bytes(d.message) for d in held) == [b"kept-1", b"kept-2"]
        closing.close()
        other = acking.subscribe(["a"])
        again = [self.receive(other, redelivery=True), self.receive(other, redelivery=True)]
        assert sorted(as_bytes(d.message) for d in again) == [b"kept-1", b"kept-2"]
        assert [d.delivery_count for d in again] == [2, 2]
        for delivery in again:
            delivery.ack()

    def test_timeout_then_eof_after_close(self, acking: AckingPubSub) -> None:
        """``next_delivery`` raises ``TimeoutError`` when idle and ``EOFError`` once closed."""
        subscriber = acking.subscribe(["a"])
        with pytest.raises(TimeoutError):
            subscriber.next_delivery(timeout=0.2)
        subscriber.close()
        subscriber.close()
        with pytest.raises(EOFError):
            subscriber.next_delivery(timeout=0.2)

    def test_close_from_another_thread_ends_a_wait(self, acking: AckingPubSub) -> None:
        """A ``next_delivery`` waiting forever raises ``EOFError`` when another thread closes."""
        subscriber = acking.subscribe(["a"])
        outcome: list[BaseException] = []

        def wait() -> None:
            try:
                subscriber.next_delivery(timeout=None)
            except BaseException as exc:
                outcome.append(exc)

        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        subscriber.close()
        waiter.join(self.receive_timeout)
        assert not waiter.is_alive(), "close() did not end the wait"
        assert len(outcome) == 1, outcome
        assert isinstance(outcome[0], EOFError), outcome

    # -- the group's backlog (DrainableSubscriber, optional) -------------------------

    def test_backlog_counts_what_the_group_has_not_acknowledged(self, acking: AckingPubSub) -> None:
        """``backlog(topic)`` counts the topic's unacknowledged messages and drains to zero."""
        subscriber = acking.subscribe(["a"])
        backlog = getattr(subscriber, "backlog", None)
        if not callable(backlog):
            pytest.skip("the subscriber reports no backlog (not a DrainableSubscriber)")
        empty = backlog("a")
        assert isinstance(empty, GroupBacklog)
        assert empty.drained, empty
        for i in range(3):
            acking.publisher.send_message("a", b"backlog-%d" % i)
        sent = backlog("a")
        assert sent.undelivered + sent.unacknowledged == 3, sent
        held = [self.receive(subscriber) for _ in range(3)]
        assert backlog("a") == GroupBacklog(undelivered=0, unacknowledged=3)
        for delivery in held:
            delivery.ack()
        # Acknowledgements may travel with the next read: read while waiting.
        deadline = time.monotonic() + self.receive_timeout
        while not (seen := backlog("a")).drained:
            if time.monotonic() > deadline:
                pytest.fail(f"the backlog stayed {seen} after every delivery was acknowledged")
            with pytest.raises(TimeoutError):
                subscriber.next_delivery(timeout=0.05)
        assert seen == GroupBacklog(undelivered=0, unacknowledged=0)
