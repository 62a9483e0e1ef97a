"""A reusable pytest suite for the producers' roster of work-sharing brokers.

On a work-sharing broker each message reaches one subscriber, so a
producer's end-of-stream message reaches only one consumer. Such a broker
keeps a *roster* of each topic's producers instead
(``proxyflow.api.WorkSharingPublisher.join/leave`` and
``WorkSharingSubscriber.roster``). Subclass
[`WorkSharingContract`][proxyflow.testing.worksharing_contract.WorkSharingContract]
and supply the same ``pubsub`` fixture as for
[`PublisherSubscriberContract`][proxyflow.testing.pubsub_contract.PublisherSubscriberContract]
(a [`PubSub`][proxyflow.testing.pubsub_contract.PubSub] whose publisher has
``join``/``leave`` and whose subscribers have ``roster``).

The guarantees checked:

* ``join`` and ``leave`` are idempotent; a roster lists producer ids as
  ``bytes`` in ``joined`` and ``left``, and is ``complete`` once at least one
  producer joined and every producer that joined has left;
* every subscriber reads the same roster, whatever topics it reads itself;
  the rosters of two topics are separate; an unknown topic's roster is empty;
* roster records are not messages: no subscriber receives them;
* ``leave`` comes after the producer's messages: once a roster is complete,
  every message its producers sent is still there for the subscribers (read
  the roster first, then find the topic empty);
* a producer id must be non-empty bytes.

A roster knows only the producers that have joined so far; a consumer that
expects ``n`` producers waits for ``n`` of them in ``joined`` too.

Example:
    ```python
    import pytest

    from proxyflow.shims.redis import RedisQueuePublisher, RedisQueueSubscriber
    from proxyflow.testing import PubSub, WorkSharingContract


    class TestRedisQueueRoster(WorkSharingContract):
        @pytest.fixture
        def pubsub(self, redis_url, prefix):
            publisher = RedisQueuePublisher(redis_url, prefix=prefix)
            yield PubSub(publisher, lambda t: RedisQueueSubscriber(redis_url, t, prefix=prefix))
            publisher.close()
    ```

The suite never imports ``proxyflow.api``: the protocols are checked by
method names and the roster by its ``joined``, ``left`` and ``complete``.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from typing import Any, ClassVar

import pytest

from proxyflow.testing._messages import as_bytes
from proxyflow.testing.pubsub_contract import PubSub, _unpack

__all__ = ["WorkSharingContract"]


def _publisher(pubsub: PubSub) -> Any:
    """The publisher, with the ``join``/``leave`` the ``PublisherLike`` shape lacks."""
    return pubsub.publisher


def _roster(subscriber: Any, topic: str) -> tuple[frozenset[bytes], frozenset[bytes], bool]:
    roster = subscriber.roster(topic)
    joined, left = roster.joined, roster.left
    assert isinstance(joined, frozenset), "Roster.joined must be a frozenset"
    assert isinstance(left, frozenset), "Roster.left must be a frozenset"
    assert all(isinstance(pid, bytes) for pid in joined | left), "producer ids must be bytes"
    return joined, left, bool(roster.complete)


class WorkSharingContract:
    """The roster a work-sharing broker must keep; subclass it and provide ``pubsub``.

    Attributes:
        receive_timeout: Seconds a test waits for a message that must come.
        quiet_timeout: Seconds a test waits to show that nothing else comes.
    """

    receive_timeout: ClassVar[float] = 5.0
    quiet_timeout: ClassVar[float] = 0.2

    def drain(self, subscriber: Any) -> list[bytes]:
        """Every message that arrives until none came for `quiet_timeout` seconds."""
        got: list[bytes] = []
        while True:
            try:
                got.append(as_bytes(subscriber.next_message(timeout=self.quiet_timeout)))
            except TimeoutError:
                return got

    def test_publisher_and_subscriber_have_the_roster_methods(self, pubsub: PubSub) -> None:
        """``join(topic, producer_id)``, ``leave(topic, producer_id)`` and ``roster(topic)``."""
        ps = _unpack(pubsub)
        for name in ("join", "leave"):
            method = getattr(ps.publisher, name, None)
            assert callable(method), f"publisher lacks {name}()"
            assert list(inspect.signature(method).parameters)[:2] == ["topic", "producer_id"]
        subscriber = ps.subscribe(["a"])
        assert callable(getattr(subscriber, "roster", None)), "subscriber lacks roster()"

    def test_an_unknown_topic_has_an_empty_roster(self, pubsub: PubSub) -> None:
        """Nobody joined: both sets are empty and the roster is not complete."""
        subscriber = _unpack(pubsub).subscribe(["a"])
        assert _roster(subscriber, "a") == (frozenset(), frozenset(), False)

    def test_join_and_leave_are_recorded_once(self, pubsub: PubSub) -> None:
        """Joining or leaving twice changes nothing."""
        ps = _unpack(pubsub)
        subscriber = ps.subscribe(["a"])
        _publisher(ps).join("a", b"p1")
        _publisher(ps).join("a", b"p1")
        assert _roster(subscriber, "a") == (frozenset({b"p1"}), frozenset(), False)
        _publisher(ps).leave("a", b"p1")
        _publisher(ps).leave("a", b"p1")
        _publisher(ps).join("a", b"p1")  # joining again after leaving does not undo the leave
        assert _roster(subscriber, "a") == (frozenset({b"p1"}), frozenset({b"p1"}), True)

    def test_the_roster_is_complete_once_every_producer_left(self, pubsub: PubSub) -> None:
        """Two producers: complete only after both left."""
        ps = _unpack(pubsub)
        subscriber = ps.subscribe(["a"])
        _publisher(ps).join("a", b"p1")
        _publisher(ps).join("a", b"p2")
        _publisher(ps).leave("a", b"p1")
        assert _roster(subscriber, "a") == (frozenset({b"p1", b"p2"}), frozenset({b"p1"}), False)
        _publisher(ps).leave("a", b"p2")
        assert _roster(subscriber, "a")[2] is True

    def test_leaving_without_joining_does_not_complete_a_roster(self, pubsub: PubSub) -> None:
        """A producer recorded only as leaving has not announced the topic."""
        ps = _unpack(pubsub)
        subscriber = ps.subscribe(["a"])
        _publisher(ps).leave("a", b"p1")
        joined, left, complete = _roster(subscriber, "a")
        assert b"p1" in left
        assert b"p1" not in joined
        assert not complete

    def test_every_subscriber_reads_the_same_roster(self, pubsub: PubSub) -> None:
        """Two subscribers of the topic, and one of another topic, see the same roster."""
        ps = _unpack(pubsub)
        readers = [ps.subscribe(["a"]), ps.subscribe(["a"]), ps.subscribe(["b"])]
        _publisher(ps).join("a", b"p1")
        _publisher(ps).join("a", b"p2")
        _publisher(ps).leave("a", b"p2")
        rosters = {_roster(reader, "a") for reader in readers}
        assert rosters == {(frozenset({b"p1", b"p2"}), frozenset({b"p2"}), False)}

    def test_the_rosters_of_topics_are_separate(self, pubsub: PubSub) -> None:
        """Joining ``a`` says nothing about ``b`` nor the longer ``ab``."""
        ps = _unpack(pubsub)
        subscriber = ps.subscribe(["a", "b"])
        _publisher(ps).join("a", b"p1")
        _publisher(ps).leave("a", b"p1")
        _publisher(ps).join("ab", b"p2")
        assert _roster(subscriber, "a") == (frozenset({b"p1"}), frozenset({b"p1"}), True)
        assert _roster(subscriber, "b") == (frozenset(), frozenset(), False)
        assert _roster(subscriber, "ab") == (frozenset({b"p2"}), frozenset(), False)

    def test_roster_records_are_not_messages(self, pubsub: PubSub) -> None:
        """Joining and leaving put nothing on the topic."""
        ps = _unpack(pubsub)
        subscriber = ps.subscribe(["a"])
        _publisher(ps).join("a", b"p1")
        ps.publisher.send_message("a", b"only-message")
        _publisher(ps).leave("a", b"p1")
        assert self.drain(subscriber) == [b"only-message"]

    def test_a_complete_roster_means_every_message_is_there(self, pubsub: PubSub) -> None:
        """Messages sent before ``leave`` are all found once the roster is complete."""
        ps = _unpack(pubsub)
        _publisher(ps).join("a", b"p1")
        sent = [b"m%d" % i for i in range(30)]
        for message in sent:
            ps.publisher.send_message("a", message)
        _publisher(ps).leave("a", b"p1")
        subscriber = ps.subscribe(["a"])
        deadline = time.monotonic() + self.receive_timeout
        while not _roster(subscriber, "a")[2]:
            assert time.monotonic() < deadline, "the roster never became complete"
        assert self.drain(subscriber) == sent

    def test_messages_are_shared_while_the_roster_is_read(self, pubsub: PubSub) -> None:
        """Two subscribers share a producer's messages; both then see the roster complete."""
        ps = _unpack(pubsub)
        readers = [ps.subscribe(["a"]), ps.subscribe(["a"])]
        _publisher(ps).join("a", b"p1")
        sent = {b"m%d" % i for i in range(20)}
        for message in sorted(sent):
            ps.publisher.send_message("a", message)
        _publisher(ps).leave("a", b"p1")
        received: list[bytes] = []
        deadline = time.monotonic() + self.receive_timeout * 2
        while len(received) < len(sent) and time.monotonic() < deadline:
            for reader in readers:
                with contextlib.suppress(TimeoutError):
                    received.append(as_bytes(reader.next_message(timeout=0.05)))
        assert sorted(received) == sorted(sent), "every message exactly once"
        assert all(_roster(reader, "a")[2] for reader in readers)

    @pytest.mark.parametrize("producer_id", [b"", ""])
    def test_a_producer_id_must_be_non_empty_bytes(self, pubsub: PubSub, producer_id: Any) -> None:
        """An empty or non-bytes id is refused."""
        publisher = _publisher(_unpack(pubsub))
        with pytest.raises((TypeError, ValueError)):
            publisher.join("a", producer_id)
        with pytest.raises((TypeError, ValueError)):
            publisher.leave("a", producer_id)
