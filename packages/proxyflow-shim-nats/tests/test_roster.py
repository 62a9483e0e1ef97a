"""The producers' roster (proxyflow.api.WorkSharingPublisher / WorkSharingSubscriber)."""

from __future__ import annotations

import asyncio

import pytest

from proxyflow.api import Roster, WorkSharingPublisher, WorkSharingSubscriber
from proxyflow.shims.nats import (
    AsyncJetStreamPublisher,
    AsyncJetStreamSubscriber,
    BrokerProtocolError,
    JetStreamPublisher,
    JetStreamSubscriber,
    StreamSettings,
    SubscriberTimeoutError,
)
from proxyflow.shims.nats.roster import parse_roster, roster_filter, roster_subject


def test_roster_subjects_never_mix_with_topics() -> None:
    subject = roster_subject("p", "a.b", "join", b"\x01\xff")
    assert subject == "p._roster.a%2Eb.join.01ff"
    assert roster_filter("p", "a.b") == "p._roster.a%2Eb.>"
    subjects = [
        subject,
        "p._roster.a%2Eb.leave.01ff",
        "p._roster.a%2Eb.join.02",
        "p._roster.a.join.03",  # another topic
        "p._roster.a%2Eb.join.zz",  # not hex: ignored
        "p.a%2Eb",  # a topic subject
    ]
    assert parse_roster(subjects, "p", "a.b") == Roster(
        frozenset({b"\x01\xff", b"\x02"}), frozenset({b"\x01\xff"})
    )
    with pytest.raises(ValueError):
        roster_subject("p", "a", "join", b"")
    with pytest.raises(ValueError):
        roster_subject("p", "a", "quit", b"x")


def test_join_and_leave_build_the_roster_every_subscriber_reads(nats_url: str, stream: str) -> None:
    first = JetStreamPublisher(nats_url, stream=stream, max_pending_acks=8)
    second = JetStreamPublisher(nats_url, stream=stream)
    readers = [JetStreamSubscriber(nats_url, "t", durable="w", stream=stream) for _ in range(2)]
    try:
        assert isinstance(first, WorkSharingPublisher)
        assert isinstance(readers[0], WorkSharingSubscriber)
        assert readers[0].roster("t") == Roster(frozenset(), frozenset())
        first.join("t", b"p1")
        first.join("t", b"p1")  # idempotent
        second.join("t", b"p2")
        for i in range(20):
            first.send_message("t", b"%d" % i)  # pipelined: leave waits for them
        first.leave("t", b"p1")
        for reader in readers:
            roster = reader.roster("t")
            assert roster == Roster(frozenset({b"p1", b"p2"}), frozenset({b"p1"}))
            assert not roster.complete
        second.leave("t", b"p2")
        assert all(reader.roster("t").complete for reader in readers)
        assert readers[1].roster("other") == Roster(frozenset(), frozenset())
        # Roster records are not messages of the topic.
        received = []
        for reader in readers:
            try:
                while True:
                    received.append(reader.next_message(timeout=0.5))
            except SubscriberTimeoutError:
                pass
        assert sorted(received) == sorted(b"%d" % i for i in range(20))
    finally:
        for obj in (first, second, *readers):
            obj.close()


def test_the_async_classes_keep_the_roster_too(nats_url: str, stream: str) -> None:
    async def main() -> Roster:
        async with (
            AsyncJetStreamPublisher(nats_url, stream=stream) as publisher,
            AsyncJetStreamSubscriber(nats_url, "t", durable="w", stream=stream) as subscriber,
        ):
            await publisher.join("t", b"p")
            await publisher.leave("t", b"p")
            return await subscriber.roster("t")

    assert asyncio.run(main()).complete


def test_an_interest_stream_cannot_keep_a_roster(nats_url: str, stream: str) -> None:
    publisher = JetStreamPublisher(nats_url, stream=StreamSettings(stream, retention="interest"))
    try:
        with pytest.raises(BrokerProtocolError, match="interest"):
            publisher.join("t", b"p")
    finally:
        publisher.close()
