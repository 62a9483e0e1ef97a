"""A reusable pytest suite for ``Publisher``/``Subscriber`` implementations (broker shims).

Subclass
[`PublisherSubscriberContract`][proxyflow.testing.pubsub_contract.PublisherSubscriberContract],
set `delivery`, and supply one fixture, ``pubsub``, returning a
[`PubSub`][proxyflow.testing.pubsub_contract.PubSub] (or a ``(publisher, subscribe)``
tuple) wired to a real broker:

* ``publisher``: one open publisher;
* ``subscribe(topics)``: returns a new subscriber of ``topics`` that is ready
  to receive, i.e. a message published after it returns reaches it (wait for
  subscription confirmations, slow joiners, ... inside this callable).

The fixture owns everything it creates and closes it on teardown; the tests may
close the publisher and subscribers themselves first, so closing must be
idempotent. The suite uses the topics ``"a"``, ``"b"`` and ``"ab"``.

Example:
    ```python
    import queue

    import pytest

    from proxyflow.shims.queue import QueuePublisher, QueueSubscriber
    from proxyflow.testing import PubSub, PublisherSubscriberContract


    class TestQueueShim(PublisherSubscriberContract):
        delivery = "point-to-point"

        @pytest.fixture
        def pubsub(self):
            queues = {}

            def subscribe(topics):
                q = queue.Queue()
                queues.update(dict.fromkeys(topics, q))
                return QueueSubscriber(q, topics=topics)

            yield PubSub(QueuePublisher(queues), subscribe)
    ```

The suite never imports ``proxyflow.stream``: conformance to its protocols is
checked by method names and signatures.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

import pytest

from proxyflow.api.protocols import Publisher, Subscriber
from proxyflow.testing._messages import as_bytes

__all__ = ["DELIVERY_MODES", "PubSub", "PublisherLike", "PublisherSubscriberContract"]

DELIVERY_MODES = ("fan-out", "work-sharing", "point-to-point")
"""The values `PublisherSubscriberContract.delivery` may take."""


PublisherLike: TypeAlias = Publisher
"""The publisher shape the suite drives.

It is [`proxyflow.api.Publisher`][proxyflow.api.protocols.Publisher],
the protocol every shim satisfies.
"""

SubscriberLike: TypeAlias = Subscriber
"""The subscriber shape the suite drives.

It is [`proxyflow.api.Subscriber`][proxyflow.api.protocols.Subscriber],
the protocol every shim satisfies.
"""


@dataclass
class PubSub:
    """What a ``pubsub`` fixture returns.

    Attributes:
        publisher: An open publisher on the broker under test.
        subscribe: Makes a new, ready subscriber of the given topics.
    """

    publisher: PublisherLike
    subscribe: Callable[[Sequence[str]], SubscriberLike]


def _unpack(pubsub: PubSub | tuple[Any, Any]) -> PubSub:
    if isinstance(pubsub, PubSub):
        return pubsub
    publisher, subscribe = pubsub
    return PubSub(publisher, subscribe)


class PublisherSubscriberContract:
    """Behaviour every broker shim must show; subclass it and provide ``pubsub``.

    Class attributes tune the suite to the broker:

    Attributes:
        delivery: ``"fan-out"`` (every subscriber of a topic gets every
            message), ``"work-sharing"`` (each message goes to exactly one of
            the subscribers of its topic) or ``"point-to-point"`` (one
            subscriber per topic receives everything sent on it).
        receive_timeout: Seconds a test waits for a message that must come.
        quiet_timeout: Seconds a test waits to show that nothing else comes.
        closed_publisher_errors: Exceptions ``send_message`` may raise once the
            publisher is closed.
    """

    delivery: ClassVar[str] = "fan-out"
    receive_timeout: ClassVar[float] = 5.0
    quiet_timeout: ClassVar[float] = 0.2
    closed_publisher_errors: ClassVar[tuple[type[BaseException], ...]] = (
        RuntimeError,
        ValueError,
        OSError,
    )

    # -- helpers ---------------------------------------------------------------------

    def receive(self, subscriber: SubscriberLike, count: int = 1) -> list[bytes]:
        """Receive ``count`` messages, each within `receive_timeout`."""
        return [
            as_bytes(subscriber.next_message(timeout=self.receive_timeout)) for _ in range(count)
        ]

    def assert_quiet(self, subscriber: SubscriberLike) -> None:
        """Assert that nothing arrives within `quiet_timeout`."""
        try:
            extra = subscriber.next_message(timeout=self.quiet_timeout)
        except TimeoutError:
            return
        pytest.fail(f"unexpected extra message {as_bytes(extra)[:40]!r}")

    # -- conformance -----------------------------------------------------------------

    def test_delivery_attribute_is_known(self) -> None:
        """The subclass declares one of the known delivery modes."""
        assert self.delivery in DELIVERY_MODES

    def test_publisher_has_protocol_methods(self, pubsub: PubSub) -> None:
        """The publisher has ``send_message(topic, message)`` and ``close()``."""
        publisher = _unpack(pubsub).publisher
        for name in ("send_message", "close"):
            assert callable(getattr(publisher, name, None)), f"publisher lacks {name}()"
        params = inspect.signature(publisher.send_message).parameters
        assert list(params)[:2] == ["topic", "message"]

    def test_subscriber_has_protocol_methods(self, pubsub: PubSub) -> None:
        """The subscriber is an iterator with ``topics``, ``next_message`` and ``close``."""
        subscriber = _unpack(pubsub).subscribe(["a"])
        for name in ("__iter__", "__next__", "next_message", "close"):
            assert callable(getattr(subscriber, name, None)), f"subscriber lacks {name}()"
        assert "timeout" in inspect.signature(subscriber.next_message).parameters
        assert isinstance(subscriber.topics, tuple)
        assert subscriber.topics in ((), ("a",))
        assert iter(subscriber) is subscriber

    # -- delivery --------------------------------------------------------------------

    def test_round_trip(self, pubsub: PubSub) -> None:
        """One message sent is one message received, unchanged."""
        ps = _unpack(pubsub)
        subscriber = ps.subscribe(["a"])
        ps.publisher.send_message("a", b"hello")
        assert self.receive(subscriber) == [b"hello"]

    def test_order_is_kept_for_one_publisher_on_one_topic(self, pubsub: PubSub) -> None:
        """100 messages from one publisher on one topic arrive in order."""
        ps = _unpack(pubsub)
        subscriber = ps.subscribe(["a"])
        sent = [f"message-{i}".encode() for i in range(100)]
        for message in sent:
            ps.publisher.send_message("a", message)
        assert self.receive(subscriber, len(sent)) == sent

    def test_binary_payloads_are_exact(self, pubsub: PubSub) -> None:
        """Every byte value, NULs included, survives the trip."""
        ps = _unpack(pubsub)
        subscriber = ps.subscribe(["a"])
        sent = [bytes(range(256)), b"\x00", b"\x00" * 10 + b"\xff", bytes(range(255, -1, -1))]
        for message in sent:
            ps.publisher.send_message("a", message)
        assert self.receive(subscriber, len(sent)) == sent

    def test_empty_message(self, pubsub: PubSub) -> None:
        """An empty message is delivered as an empty message."""
        ps = _unpack(pubsub)
        subscriber = ps.subscribe(["a"])
        ps.publisher.send_message("a", b"")
        ps.publisher.send_message("a", b"after")
        assert self.receive(subscriber, 2) == [b"", b"after"]

    def test_one_mib_payload(self, pubsub: PubSub) -> None:
        """A 1 MiB payload arrives whole."""
        ps = _unpack(pubsub)
        subscriber = ps.subscribe(["a"])
        payload = os.urandom(1 << 20)
        ps.publisher.send_message("a", payload)
        assert self.receive(subscriber) == [payload]

    def test_bytearray_and_memoryview_messages(self, pubsub: PubSub) -> None:
        """``bytearray`` and ``memoryview`` messages are accepted."""
        ps = _unpack(pubsub)
        subscriber = ps.subscribe(["a"])
        big = os.urandom(200_000)
        ps.publisher.send_message("a", bytearray(b"from-bytearray"))
        ps.publisher.send_message("a", memoryview(b"from-memoryview"))
        ps.publisher.send_message("a", memoryview(big))
        assert self.receive(subscriber, 3) == [b"from-bytearray", b"from-memoryview", big]

    def test_several_topics_on_one_subscriber(self, pubsub: PubSub) -> None:
        """One subscriber reads several topics."""
        ps = _unpack(pubsub)
        subscriber = ps.subscribe(["a", "b"])
        assert set(subscriber.topics) in (set(), {"a", "b"})
        ps.publisher.send_message("a", b"on-a")
        ps.publisher.send_message("b", b"on-b")
        assert sorted(self.receive(subscriber, 2)) == [b"on-a", b"on-b"]

    def test_topics_are_isolated(self, pubsub: PubSub) -> None:
        """A subscriber of ``a`` never sees ``b`` nor the longer ``ab``."""
        ps = _unpack(pubsub)
        only_a = ps.subscribe(["a"])
        others = ps.subscribe(["b", "ab"])
        ps.publisher.send_message("b", b"on-b")
        ps.publisher.send_message("ab", b"on-ab")
        ps.publisher.send_message("a", b"on-a")
        assert self.receive(only_a) == [b"on-a"]
        self.assert_quiet(only_a)
        assert sorted(self.receive(others, 2)) == [b"on-ab", b"on-b"]
        self.assert_quiet(others)

    def test_iteration_yields_messages(self, pubsub: PubSub) -> None:
        """Iterating a subscriber yields the messages."""
        ps = _unpack(pubsub)
        subscriber = ps.subscribe(["a"])
        for i in range(3):
            ps.publisher.send_message("a", b"%d" % i)
        iterator = iter(subscriber)
        assert [as_bytes(next(iterator)) for _ in range(3)] == [b"0", b"1", b"2"]

    # -- fan-out / work-sharing / point-to-point ---------------------------------------

    def test_fan_out_every_subscriber_gets_every_message(self, pubsub: PubSub) -> None:
        """Fan-out: two subscribers of a topic both get every message."""
        if self.delivery != "fan-out":
            pytest.skip(f"delivery is {self.delivery}")
        ps = _unpack(pubsub)
        first, second = ps.subscribe(["a"]), ps.subscribe(["a"])
        sent = [b"%d" % i for i in range(20)]
        for message in sent:
            ps.publisher.send_message("a", message)
        assert self.receive(first, len(sent)) == sent
        assert self.receive(second, len(sent)) == sent

    def test_work_sharing_each_message_goes_to_one_subscriber(self, pubsub: PubSub) -> None:
        """Work sharing: each message reaches exactly one of two subscribers."""
        if self.delivery != "work-sharing":
            pytest.skip(f"delivery is {self.delivery}")
        ps = _unpack(pubsub)
        subscribers = [ps.subscribe(["a"]), ps.subscribe(["a"])]
        sent = {b"%d" % i for i in range(40)}
        for message in sorted(sent):
            ps.publisher.send_message("a", message)
        received: list[bytes] = []
        deadline = time.monotonic() + self.receive_timeout * 2
        while len(received) < len(sent) and time.monotonic() < deadline:
            for subscriber in subscribers:
                with contextlib.suppress(TimeoutError):
                    received.append(as_bytes(subscriber.next_message(timeout=0.05)))
        assert sorted(received) == sorted(sent), "every message exactly once"
        for subscriber in subscribers:
            self.assert_quiet(subscriber)

    def test_work_sharing_keeps_messages_sent_before_any_subscriber(self, pubsub: PubSub) -> None:
        """Work sharing: a message sent before anyone listens waits for a reader."""
        if self.delivery != "work-sharing":
            pytest.skip(f"delivery is {self.delivery}")
        ps = _unpack(pubsub)
        ps.publisher.send_message("a", b"early")
        subscriber = ps.subscribe(["a"])
        assert self.receive(subscriber) == [b"early"]

    def test_point_to_point_one_subscriber_gets_everything(self, pubsub: PubSub) -> None:
        """Point-to-point: the subscriber of two topics gets all their messages."""
        if self.delivery != "point-to-point":
            pytest.skip(f"delivery is {self.delivery}")
        ps = _unpack(pubsub)
        subscriber = ps.subscribe(["a", "b"])
        sent = {b"a%d" % i for i in range(25)} | {b"b%d" % i for i in range(25)}
        for message in sorted(sent):
            ps.publisher.send_message(message[:1].decode(), message)
        assert sorted(self.receive(subscriber, len(sent))) == sorted(sent)
        self.assert_quiet(subscriber)

    # -- timeouts and close ------------------------------------------------------------

    def test_next_message_times_out_when_nothing_is_sent(self, pubsub: PubSub) -> None:
        """``next_message(timeout=0.2)`` raises ``TimeoutError`` after about 0.2 s."""
        subscriber = _unpack(pubsub).subscribe(["a"])
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            subscriber.next_message(timeout=0.2)
        elapsed = time.monotonic() - start
        assert 0.1 <= elapsed < 0.2 + self.receive_timeout

    def test_subscriber_close_twice_and_eof(self, pubsub: PubSub) -> None:
        """Closing twice is fine; then ``EOFError`` and iteration stops."""
        subscriber = _unpack(pubsub).subscribe(["a"])
        subscriber.close()
        subscriber.close()
        with pytest.raises(EOFError):
            subscriber.next_message(timeout=0.2)
        with pytest.raises(StopIteration):
            next(subscriber)
        assert list(subscriber) == []

    def test_closing_a_subscriber_leaves_the_publisher_usable(self, pubsub: PubSub) -> None:
        """Closing one subscriber does not disturb the publisher."""
        ps = _unpack(pubsub)
        ps.subscribe(["a"]).close()
        subscriber = ps.subscribe(["a"])
        ps.publisher.send_message("a", b"still-works")
        assert self.receive(subscriber) == [b"still-works"]

    def test_publisher_close_twice_then_send_fails(self, pubsub: PubSub) -> None:
        """Closing twice is fine; sending afterwards raises."""
        publisher = _unpack(pubsub).publisher
        publisher.close()
        publisher.close()
        with pytest.raises(self.closed_publisher_errors):
            publisher.send_message("a", b"too late")
