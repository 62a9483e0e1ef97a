"""Redis Streams shim: groups, dead letters, the roster, errors and close, on a real Redis."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from proxyflow.api import (
    AckingSubscriber,
    BackendProtocolError,
    Delivery,
    Publisher,
    WorkSharingPublisher,
    WorkSharingSubscriber,
)
from proxyflow.shims.redis import (
    ROSTER_PREFIX,
    BrokerAuthenticationError,
    BrokerConnectionError,
    BrokerProtocolError,
    DeliveryReleasedError,
    PublishRejectedError,
    RedisStreamPublisher,
    RedisStreamSubscriber,
    StreamsUnsupportedError,
    SubscriberClosedError,
)
from proxyflow.shims.redis._streams_server import check_version, server_version


@pytest.fixture
def admin(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, protocol=2)
    yield client
    client.close()


def drain(subscriber: RedisStreamSubscriber, quiet: float = 0.5) -> list[bytes]:
    """Receive and acknowledge until nothing comes for ``quiet`` seconds."""
    received = []
    while True:
        try:
            delivery = subscriber.next_delivery(timeout=quiet)
        except TimeoutError:
            return received
        received.append(delivery.message)
        delivery.ack()


def test_classes_satisfy_the_protocols(redis_url: str, prefix: str) -> None:
    with RedisStreamPublisher(redis_url, prefix=prefix) as publisher:
        assert isinstance(publisher, Publisher)
        assert isinstance(publisher, WorkSharingPublisher)
        with RedisStreamSubscriber(redis_url, "a", group="g", prefix=prefix) as subscriber:
            assert isinstance(subscriber, AckingSubscriber)
            assert isinstance(subscriber, WorkSharingSubscriber)
            publisher.send_message("a", b"x")
            delivery = subscriber.next_delivery(timeout=5)
            assert isinstance(delivery, Delivery)
            assert delivery.fields == {"message": b"x"}
            assert delivery.entry_id.count("-") == 1
            delivery.ack()


def test_each_group_gets_every_message_and_shares_it_inside(redis_url: str, prefix: str) -> None:
    with RedisStreamPublisher(redis_url, prefix=prefix) as publisher:
        audit = RedisStreamSubscriber(redis_url, "a", group="audit", prefix=prefix)
        workers = [RedisStreamSubscriber(redis_url, "a", group="work", prefix=prefix) for _ in "12"]
        sent = [b"m%d" % i for i in range(20)]
        for message in sent:
            publisher.send_message("a", message)
        assert drain(audit) == sent
        shared = drain(workers[0], quiet=0.2) + drain(workers[1], quiet=0.2)
        assert sorted(shared) == sorted(sent)
        for subscriber in [audit, *workers]:
            subscriber.close()


def test_deliver_policy_new_skips_what_was_there(redis_url: str, prefix: str) -> None:
    with RedisStreamPublisher(redis_url, prefix=prefix) as publisher:
        publisher.send_message("a", b"old")
        with RedisStreamSubscriber(
            redis_url, "a", group="late", prefix=prefix, deliver_policy="new"
        ) as subscriber:
            publisher.send_message("a", b"new")
            assert drain(subscriber) == [b"new"]


def test_dead_letters_after_max_deliveries_keep_the_metadata(redis_url: str, prefix: str) -> None:
    with RedisStreamPublisher(redis_url, prefix=prefix) as publisher:
        subscriber = RedisStreamSubscriber(
            redis_url, "a", group="g", prefix=prefix, max_deliveries=2, visibility_timeout=1.0
        )
        publisher.send_message("a", b"poison")
        first = subscriber.next_delivery(timeout=5)
        first.nack()
        second = subscriber.next_delivery(timeout=5)
        assert second.delivery_count == 2
        second.nack()  # the second delivery was the last: to the dead letters
        with pytest.raises(TimeoutError):
            subscriber.next_delivery(timeout=1.5)
        with RedisStreamSubscriber(
            redis_url, "dead-letters", group="inspect", prefix=prefix, dead_letter=None
        ) as dead:
            letter = dead.next_delivery(timeout=5)
        assert letter.message == b"poison"
        assert letter.fields["proxyflow-topic"] == b"a"
        assert letter.fields["proxyflow-id"] == first.entry_id.encode()
        assert letter.fields["proxyflow-group"] == b"g"
        assert letter.fields["proxyflow-consumer"] == subscriber.consumer.encode()
        assert letter.fields["proxyflow-deliveries"] == b"2"
        assert letter.fields["proxyflow-reason"] == b"max-deliveries"
        subscriber.close()


def test_an_expired_last_delivery_goes_to_the_dead_letters(redis_url: str, prefix: str) -> None:
    """The entry's last allowed delivery expires unsettled: the reclaim moves it."""
    with RedisStreamPublisher(redis_url, prefix=prefix) as publisher:
        holder = RedisStreamSubscriber(
            redis_url, "a", group="g", prefix=prefix, max_deliveries=1, visibility_timeout=0.5
        )
        publisher.send_message("a", b"slow")
        assert holder.next_delivery(timeout=5).message == b"slow"  # held, never settled
        with (
            RedisStreamSubscriber(
                redis_url, "a", group="g", prefix=prefix, max_deliveries=1, visibility_timeout=0.5
            ) as other,
            pytest.raises(TimeoutError),
        ):
            other.next_delivery(timeout=1.5)
        with RedisStreamSubscriber(
            redis_url, "dead-letters", group="inspect", prefix=prefix, dead_letter=None
        ) as dead:
            letter = dead.next_delivery(timeout=5)
        assert (letter.message, letter.fields["proxyflow-deliveries"]) == (b"slow", b"1")
        holder.close()


def test_rejected_and_malformed_entries_go_to_the_dead_letters(
    redis_url: str, prefix: str, admin: redis.Redis
) -> None:
    with RedisStreamPublisher(redis_url, prefix=prefix) as publisher:
        subscriber = RedisStreamSubscriber(redis_url, "a", group="g", prefix=prefix)
        admin.xadd(prefix + "a", {"not-message": b"from elsewhere"})  # untrusted input
        publisher.send_message("a", b"refused")
        delivery = subscriber.next_delivery(timeout=5)  # the malformed one was not handed out
        assert delivery.message == b"refused"
        delivery.reject()
        with RedisStreamSubscriber(
            redis_url, "dead-letters", group="inspect", prefix=prefix, dead_letter=None
        ) as dead:
            letters = [dead.next_delivery(timeout=5) for _ in range(1)]
            malformed = admin.xrange(prefix + "dead-letters")[0][1]
        assert malformed[b"not-message"] == b"from elsewhere"
        assert malformed[b"proxyflow-reason"] == b"malformed"
        assert letters[0].fields["proxyflow-reason"] == b"rejected"
        assert admin.xpending(prefix + "a", "g")["pending"] == 0
        subscriber.close()


def test_without_dead_letters_exhausted_entries_are_dropped_loudly(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    with RedisStreamPublisher(redis_url, prefix=prefix) as publisher:
        subscriber = RedisStreamSubscriber(
            redis_url, "a", group="g", prefix=prefix, dead_letter=None, max_deliveries=1
        )
        publisher.send_message("a", b"gone")
        with caplog.at_level(logging.WARNING, logger="proxyflow.shims.redis"):
            subscriber.next_delivery(timeout=5).nack()
        assert "dropped (no dead-letter topic)" in caplog.text
        with pytest.raises(TimeoutError):
            subscriber.next_delivery(timeout=0.5)
        subscriber.close()


def test_a_stale_nack_does_not_take_back_a_reclaimed_entry(
    redis_url: str, prefix: str, admin: redis.Redis
) -> None:
    with RedisStreamPublisher(redis_url, prefix=prefix) as publisher:
        options = {"group": "g", "prefix": prefix, "visibility_timeout": 0.5}
        slow = RedisStreamSubscriber(redis_url, "a", **options)
        fast = RedisStreamSubscriber(redis_url, "a", **options)
        publisher.send_message("a", b"contested")
        stale = slow.next_delivery(timeout=5)
        fresh = fast.next_delivery(timeout=5)  # reclaimed after the visibility timeout
        assert (fresh.message, fresh.delivery_count) == (b"contested", 2)
        stale.nack()  # the entry is fast's now: nothing happens
        pending = admin.xpending_range(prefix + "a", "g", "-", "+", 10)
        assert [(p["consumer"], p["times_delivered"]) for p in pending] == [
            (fast.consumer.encode(), 2)
        ]
        fresh.ack()
        assert admin.xpending(prefix + "a", "g")["pending"] == 0
        slow.close()
        fast.close()


def test_nack_delay_longer_than_the_visibility_timeout_is_refused(
    redis_url: str, prefix: str
) -> None:
    with RedisStreamPublisher(redis_url, prefix=prefix) as publisher:
        subscriber = RedisStreamSubscriber(
            redis_url, "a", group="g", prefix=prefix, visibility_timeout=2.0
        )
        publisher.send_message("a", b"x")
        delivery = subscriber.next_delivery(timeout=5)
        with pytest.raises(ValueError, match="visibility timeout"):
            delivery.nack(delay=3.0)
        with pytest.raises(ValueError, match="delay"):
            delivery.nack(delay=-1.0)
        assert not delivery.settled  # still held: settle it properly
        delivery.nack(delay=2.0)
        assert delivery.settled
        subscriber.close()


def test_close_gives_back_and_leaves_the_group(
    redis_url: str, prefix: str, admin: redis.Redis
) -> None:
    with RedisStreamPublisher(redis_url, prefix=prefix) as publisher:
        subscriber = RedisStreamSubscriber(redis_url, "a", group="g", prefix=prefix, batch=8)
        for i in range(6):
            publisher.send_message("a", b"%d" % i)
        held = subscriber.next_delivery(timeout=5)
        subscriber.close()
        with pytest.raises(DeliveryReleasedError):
            held.ack()
        held.nack()  # does nothing: it was given back
        consumers = {c["name"] for c in admin.xinfo_consumers(prefix + "a", "g")}
        assert subscriber.consumer.encode() not in consumers
        with RedisStreamSubscriber(redis_url, "a", group="g", prefix=prefix) as other:
            again = [other.next_delivery(timeout=5) for _ in range(6)]
        assert sorted(d.message for d in again) == [b"%d" % i for i in range(6)]
        counts = {d.message: d.delivery_count for d in again}
        assert counts[b"0"] == 2  # handed out before the close
        # Entries read ahead but never handed out keep their count.
        assert all(count <= 2 for count in counts.values())


def test_a_deleted_stream_gets_its_group_back(
    redis_url: str, prefix: str, admin: redis.Redis
) -> None:
    with RedisStreamPublisher(redis_url, prefix=prefix) as publisher:
        subscriber = RedisStreamSubscriber(redis_url, "a", group="g", prefix=prefix)
        admin.delete(prefix + "a")
        publisher.send_message("a", b"after")
        assert subscriber.next_delivery(timeout=5).message == b"after"
        subscriber.close()


def test_roster_records_producers_after_their_messages(
    redis_url: str, prefix: str, admin: redis.Redis
) -> None:
    with RedisStreamPublisher(redis_url, prefix=prefix, max_unconfirmed=16) as publisher:
        subscriber = RedisStreamSubscriber(redis_url, "a", group="g", prefix=prefix)
        assert subscriber.roster("a").joined == frozenset()
        publisher.join("a", b"p1")
        publisher.join("a", b"p2")
        publisher.join("a", b"p1")
        publisher.send_message("a", b"last")
        publisher.leave("a", b"p1")
        roster = subscriber.roster("a")
        assert (roster.joined, roster.left, roster.complete) == ({b"p1", b"p2"}, {b"p1"}, False)
        publisher.leave("a", b"p2")
        assert subscriber.roster("a").complete
        assert subscriber.roster("b").joined == frozenset()
        # The list queues' layout: one hash per topic, named after the data key.
        fields = admin.hkeys(f"{ROSTER_PREFIX}{prefix}a")
        assert sorted(fields) == [b"j:p1", b"j:p2", b"l:p1", b"l:p2"]
        with pytest.raises(ValueError, match="producer id"):
            publisher.join("a", b"")
        # A refused send is raised by leave(), which then records nothing.
        admin.set(prefix + "other", b"not a stream")
        publisher.join("other", b"p3")
        with pytest.raises(PublishRejectedError):  # noqa: PT012
            publisher.send_message("other", b"refused")  # raises here if the reply is in
            publisher.leave("other", b"p3")
        assert subscriber.roster("other").left == frozenset()
        publisher.clear_roster("a")
        assert subscriber.roster("a").joined == frozenset()
        subscriber.close()
        with pytest.raises(SubscriberClosedError):
            subscriber.roster("a")


def test_killed_connections_are_opened_again_and_lose_nothing(
    redis_url: str, prefix: str, admin: redis.Redis
) -> None:
    with RedisStreamPublisher(redis_url, prefix=prefix) as publisher:
        subscriber = RedisStreamSubscriber(redis_url, "a", group="g", prefix=prefix)
        publisher.send_message("a", b"before")
        held = subscriber.next_delivery(timeout=5)
        admin.client_kill_filter(_type="normal", skipme=True)  # every connection but admin's
        with pytest.raises(TimeoutError):
            subscriber.next_delivery(timeout=0.5)  # reads on a new connection
        held.ack()
        # The publisher's own connection: the send that meets the dead connection
        # cannot know whether Redis stored it, and says so; the next one reconnects.
        with pytest.raises(BrokerConnectionError, match="closed"):
            publisher.send_message("a", b"lost?")
        publisher.send_message("a", b"after")
        assert drain(subscriber) == [b"after"]
        assert admin.xpending(prefix + "a", "g")["pending"] == 0
        subscriber.close()


def test_refused_adds_are_typed_errors(redis_url: str, prefix: str, admin: redis.Redis) -> None:
    admin.set(prefix + "not-a-stream", b"string")
    with RedisStreamPublisher(redis_url, prefix=prefix) as publisher:
        with pytest.raises(PublishRejectedError, match="WRONGTYPE"):
            publisher.send_message("not-a-stream", b"x")
        publisher.send_message("fine", b"x")
    with pytest.raises(BrokerProtocolError, match="WRONGTYPE") as caught:
        RedisStreamSubscriber(redis_url, "not-a-stream", group="g", prefix=prefix)
    assert isinstance(caught.value, BackendProtocolError)


@pytest.fixture
def no_xautoclaim_url(redis_url: str, admin: redis.Redis) -> Iterator[str]:
    """A user allowed everything but XAUTOCLAIM (as on a server older than 6.2)."""
    name, password = f"old-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin.acl_setuser(
        name,
        enabled=True,
        passwords=[f"+{password}"],
        commands=["+@all", "-xautoclaim", "-info"],
        keys=["*"],
    )
    parts = urlsplit(redis_url)
    yield urlunsplit(parts._replace(netloc=f"{name}:{password}@{parts.hostname}:{parts.port}"))
    admin.acl_deluser(name)


def test_old_servers_get_a_clear_error() -> None:
    with pytest.raises(StreamsUnsupportedError, match=r"version 6\.0; .* needs Redis 6\.2"):
        check_version({"redis_version": "6.0.16"}, (6, 2), "the subscriber", "redis://h")
    check_version({"redis_version": "7.0.15"}, (6, 2), "the subscriber", "redis://h")
    check_version(None, (6, 2), "the subscriber", "redis://h")  # INFO refused: no verdict
    assert server_version({"redis_version": "10.1.2"}) == (10, 1)
    assert server_version({}) is None


def test_a_refused_command_names_the_reply(no_xautoclaim_url: str, prefix: str) -> None:
    subscriber = RedisStreamSubscriber(no_xautoclaim_url, "a", group="g", prefix=prefix)
    # Redis words the denial of a command inside a script differently across versions.
    with pytest.raises((BrokerProtocolError, BrokerAuthenticationError), match="script"):
        subscriber.next_delivery(timeout=0.1)
    subscriber.close()


def test_bad_options_are_refused(redis_url: str, prefix: str) -> None:
    cases = [
        ({"visibility_timeout": 0}, "visibility_timeout"),
        ({"max_deliveries": 0}, "max_deliveries"),
        ({"batch": 0}, "batch"),
        ({"deliver_policy": "middle"}, "deliver_policy"),
        ({"dead_letter": "a"}, "dead-letter topic"),
        ({"claim_interval": 0}, "claim_interval"),
        ({"group": ""}, "group"),
        ({"poll_interval": 5.0}, "socket_timeout"),
    ]
    for options, match in cases:
        arguments = {"group": "g", "prefix": prefix, **options}
        with pytest.raises(ValueError, match=match):
            RedisStreamSubscriber(redis_url, "a", **arguments)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="topic"):
        RedisStreamSubscriber(redis_url, [], group="g")
    with pytest.raises(ValueError, match="maxlen"):
        RedisStreamPublisher(redis_url, maxlen=0)
