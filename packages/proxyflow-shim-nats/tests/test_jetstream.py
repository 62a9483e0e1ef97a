"""Behaviour of the JetStream shim beyond the contract suites, against a real server."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import nats
import pytest

from proxyflow.api import (
    AckingSubscriber,
    AsyncAckingSubscriber,
    AsyncPublisher,
    BackendFullError,
    ObjectTooLargeError,
    Publisher,
)
from proxyflow.shims.nats import (
    AsyncJetStreamPublisher,
    AsyncJetStreamSubscriber,
    ConsumerConfigMismatchError,
    DeliveryReleasedError,
    JetStreamPublisher,
    JetStreamSubscriber,
    MessageTooLargeError,
    PublisherClosedError,
    PublishNotAcknowledgedError,
    StreamConfigMismatchError,
    StreamFullError,
    StreamNotFoundError,
    StreamSettings,
    SubscriberTimeoutError,
)
from proxyflow.shims.nats.deadletter import REASON_HEADER, SEQUENCE_HEADER, TOPIC_HEADER


@pytest.fixture
def closing() -> Iterator[list[Any]]:
    """Objects to close at the end of the test."""
    objects: list[Any] = []
    yield objects
    for obj in reversed(objects):
        obj.close()


def stream_info(url: str, name: str) -> Any:
    async def info() -> Any:
        client = await nats.connect(url)
        try:
            return await client.jetstream().stream_info(name)
        finally:
            await client.close()

    return asyncio.run(info())


def test_classes_satisfy_the_protocols(nats_url: str, stream: str, closing: list[Any]) -> None:
    publisher = JetStreamPublisher(nats_url, stream=stream)
    subscriber = JetStreamSubscriber(nats_url, ["a"], durable="w", stream=stream)
    closing += [publisher, subscriber]
    assert isinstance(publisher, Publisher)
    assert isinstance(subscriber, AckingSubscriber)
    assert isinstance(AsyncJetStreamPublisher(nats_url), AsyncPublisher)
    assert isinstance(AsyncJetStreamSubscriber(nats_url, "a", durable="w"), AsyncAckingSubscriber)


# -- the stream and its consumers -------------------------------------------------------


def test_stream_is_created_with_the_settings_given(
    nats_url: str, stream: str, closing: list[Any]
) -> None:
    settings = StreamSettings(
        stream, subject_prefix="pf.test", storage="memory", max_msgs=100, max_bytes=1 << 20
    )
    closing.append(JetStreamPublisher(nats_url, stream=settings))
    config = stream_info(nats_url, stream).config
    assert config.subjects == ["pf.test.>"]
    assert (str(config.storage), config.max_msgs, config.max_bytes) == ("memory", 100, 1 << 20)
    assert (str(config.retention), str(config.discard)) == ("limits", "new")


def test_a_different_existing_stream_is_a_clear_error(
    nats_url: str, stream: str, closing: list[Any]
) -> None:
    closing.append(JetStreamPublisher(nats_url, stream=StreamSettings(stream, max_msgs=10)))
    closing.append(JetStreamPublisher(nats_url, stream=stream))  # settings left open: accepted
    with pytest.raises(StreamConfigMismatchError, match="max_msgs: asked 20") as caught:
        JetStreamPublisher(nats_url, stream=StreamSettings(stream, max_msgs=20))
    assert isinstance(caught.value, ValueError)


def test_a_missing_stream_is_not_created_when_told_so(nats_url: str, stream: str) -> None:
    with pytest.raises(StreamNotFoundError, match="create=False"):
        JetStreamPublisher(nats_url, stream=StreamSettings(stream, create=False))


def test_a_durable_with_other_settings_is_a_clear_error(
    nats_url: str, stream: str, closing: list[Any]
) -> None:
    closing.append(JetStreamSubscriber(nats_url, "a", durable="w", stream=stream, ack_wait=1.0))
    with pytest.raises(ConsumerConfigMismatchError, match="ack_wait"):
        JetStreamSubscriber(nats_url, "a", durable="w", stream=stream, ack_wait=2.0)
    with pytest.raises(ConsumerConfigMismatchError, match="max_deliver"):
        JetStreamSubscriber(nats_url, "a", durable="w", stream=stream, ack_wait=1.0, max_deliver=3)


def test_odd_topics_round_trip_and_stay_apart(
    nats_url: str, stream: str, closing: list[Any]
) -> None:
    topics = ["a", "a.b", "a b", "*", ">", "ü", "x%41"]
    publisher = JetStreamPublisher(nats_url, stream=stream)
    subscribers = {t: JetStreamSubscriber(nats_url, t, durable="w", stream=stream) for t in topics}
    closing += [publisher, *subscribers.values()]
    for topic in topics:
        publisher.send_message(topic, topic.encode())
    for topic, subscriber in subscribers.items():
        delivery = subscriber.next_delivery(timeout=5.0)
        assert (delivery.topic, delivery.message) == (topic, topic.encode())
        delivery.ack()
        with pytest.raises(SubscriberTimeoutError):
            subscriber.next_delivery(timeout=0.2)


def test_deliver_policy_new_skips_older_messages(
    nats_url: str, stream: str, closing: list[Any]
) -> None:
    publisher = JetStreamPublisher(nats_url, stream=stream)
    closing.append(publisher)
    publisher.send_message("a", b"old")
    late = JetStreamSubscriber(nats_url, "a", durable="late", stream=stream, deliver_policy="new")
    closing.append(late)
    publisher.send_message("a", b"new")
    assert late.next_message(timeout=5.0) == b"new"


# -- sends ------------------------------------------------------------------------------


def test_a_full_stream_refuses_sends_and_keeps_what_it_has(
    nats_url: str, stream: str, closing: list[Any]
) -> None:
    publisher = JetStreamPublisher(nats_url, stream=StreamSettings(stream, max_msgs=3))
    subscriber = JetStreamSubscriber(nats_url, "a", durable="w", stream=stream)
    closing += [publisher, subscriber]
    for i in range(3):
        publisher.send_message("a", b"%d" % i)
    with pytest.raises(StreamFullError, match="maximum messages") as caught:
        publisher.send_message("a", b"one too many")
    assert isinstance(caught.value, BackendFullError)
    assert [subscriber.next_message(timeout=5.0) for _ in range(3)] == [b"0", b"1", b"2"]


def test_messages_over_the_limits_are_refused_and_the_connection_survives(
    nats_url: str, stream: str, closing: list[Any]
) -> None:
    publisher = JetStreamPublisher(nats_url, stream=StreamSettings(stream, max_msg_size=1000))
    subscriber = JetStreamSubscriber(nats_url, "a", durable="w", stream=stream)
    closing += [publisher, subscriber]
    with pytest.raises(MessageTooLargeError, match="max_payload") as caught:
        publisher.send_message("a", bytes(9 << 20))  # over the server's 8 MiB max_payload
    assert isinstance(caught.value, ObjectTooLargeError)
    with pytest.raises(MessageTooLargeError):
        publisher.send_message("a", bytes(2000))  # over the stream's max_msg_size
    publisher.send_message("a", b"small")
    assert subscriber.next_message(timeout=5.0) == b"small"


def test_pipelined_sends_keep_order_and_flush(
    nats_url: str, stream: str, closing: list[Any]
) -> None:
    publisher = JetStreamPublisher(nats_url, stream=stream, max_pending_acks=32)
    subscriber = JetStreamSubscriber(nats_url, "a", durable="w", stream=stream)
    closing += [publisher, subscriber]
    buffer = bytearray(b"x")
    sent = []
    for i in range(300):
        buffer[:] = b"m%d" % i
        publisher.send_message("a", memoryview(buffer))  # the buffer is reused at once
        sent.append(bytes(buffer))
    publisher.flush()
    assert [subscriber.next_message(timeout=5.0) for _ in sent] == sent


def test_pipelined_sends_that_fail_are_named(nats_url: str, stream: str) -> None:
    publisher = JetStreamPublisher(
        nats_url, stream=StreamSettings(stream, max_msgs=5), max_pending_acks=4
    )
    for i in range(5):
        publisher.send_message("a", b"%d" % i)
    publisher.flush()
    for i in range(5, 8):
        publisher.send_message("a", b"%d" % i)
    with pytest.raises(PublishNotAcknowledgedError) as caught:
        publisher.flush()
    assert [f.index for f in caught.value.failures] == [5, 6, 7]
    assert all(isinstance(f.error, StreamFullError) for f in caught.value.failures)
    publisher.flush()  # reported once
    publisher.send_message("a", b"late")
    with pytest.raises(PublishNotAcknowledgedError):
        publisher.close()  # close still reports what failed ...
    assert publisher.closed  # ... and closes
    with pytest.raises(PublisherClosedError):
        publisher.send_message("a", b"after close")


# -- deliveries -------------------------------------------------------------------------


def test_delivery_details_and_settling_after_close(
    nats_url: str, stream: str, closing: list[Any]
) -> None:
    publisher = JetStreamPublisher(nats_url, stream=stream)
    subscriber = JetStreamSubscriber(nats_url, "a", durable="w", stream=stream)
    closing += [publisher, subscriber]
    publisher.send_message("a", b"one")
    first = subscriber.next_delivery(timeout=5.0)
    assert first.stream_sequence == 1
    with pytest.raises(ValueError):
        first.nack(delay=-1.0)
    first.nack()
    again = subscriber.next_delivery(timeout=5.0)
    assert (again.message, again.stream_sequence, again.delivery_count) == (b"one", 1, 2)
    subscriber.close()
    assert again.settled
    again.nack()  # given back by close already: nothing to do
    with pytest.raises(DeliveryReleasedError):
        again.ack()
    assert isinstance(DeliveryReleasedError("x"), ConnectionError)


def test_rejected_messages_go_to_the_dead_letter_topic(
    nats_url: str, stream: str, closing: list[Any]
) -> None:
    publisher = JetStreamPublisher(nats_url, stream=stream)
    worker = JetStreamSubscriber(
        nats_url, "jobs", durable="w", stream=stream, dead_letter_topic="dead"
    )
    dead = JetStreamSubscriber(nats_url, "dead", durable="ops", stream=stream)
    closing += [publisher, worker, dead]
    publisher.send_message("jobs", b"poison")
    worker.next_delivery(timeout=5.0).reject()
    letter = dead.next_delivery(timeout=5.0)
    assert letter.message == b"poison"
    assert letter.headers[REASON_HEADER] == "rejected"
    assert letter.headers[TOPIC_HEADER] == "jobs"
    assert letter.headers[SEQUENCE_HEADER] == "1"
    letter.ack()
    with pytest.raises(SubscriberTimeoutError):
        worker.next_delivery(timeout=1.5)


def test_exhausted_messages_go_to_the_dead_letter_topic(
    nats_url: str, stream: str, closing: list[Any]
) -> None:
    publisher = JetStreamPublisher(nats_url, stream=stream)
    worker = JetStreamSubscriber(
        nats_url,
        "jobs",
        durable="w",
        stream=stream,
        ack_wait=1.0,
        max_deliver=2,
        dead_letter_topic="dead",
    )
    dead = JetStreamSubscriber(nats_url, "dead", durable="ops", stream=stream)
    closing += [publisher, worker, dead]
    publisher.send_message("jobs", b"nacked")
    first = worker.next_delivery(timeout=5.0)
    first.nack()
    second = worker.next_delivery(timeout=5.0)
    assert (second.message, second.delivery_count) == (b"nacked", 2)
    second.nack()  # its last delivery: moved at once
    letter = dead.next_delivery(timeout=5.0)
    assert (letter.message, letter.headers[REASON_HEADER]) == (b"nacked", "max-deliveries")
    letter.ack()

    publisher.send_message("jobs", b"abandoned")
    assert worker.next_delivery(timeout=5.0).delivery_count == 1  # never settled
    again = worker.next_delivery(timeout=5.0)  # after ack_wait
    assert (again.message, again.delivery_count) == (b"abandoned", 2)
    # Not settled either: its third delivery is moved instead of handed out.
    with pytest.raises(SubscriberTimeoutError):
        worker.next_delivery(timeout=3.0)
    letter = dead.next_delivery(timeout=5.0)
    assert (letter.message, letter.headers[REASON_HEADER]) == (b"abandoned", "max-deliveries")


def test_without_dead_letters_the_server_drops_exhausted_messages(
    nats_url: str, stream: str, closing: list[Any]
) -> None:
    publisher = JetStreamPublisher(nats_url, stream=stream)
    worker = JetStreamSubscriber(nats_url, "a", durable="w", stream=stream, max_deliver=1)
    closing += [publisher, worker]
    publisher.send_message("a", b"once")
    worker.next_delivery(timeout=5.0).nack()
    with pytest.raises(SubscriberTimeoutError):
        worker.next_delivery(timeout=1.0)
    assert stream_info(nats_url, stream).state.messages == 1  # still stored, never delivered


def test_async_classes_work_natively(nats_url: str, stream: str) -> None:
    async def main() -> list[bytes]:
        async with (
            AsyncJetStreamPublisher(nats_url, stream=stream) as publisher,
            AsyncJetStreamSubscriber(
                nats_url, ["a", "b"], durable="w", stream=stream, timeout=5.0
            ) as subscriber,
        ):
            await publisher.send_message("a", b"1")
            await publisher.send_message("b", b"2")
            received = []
            async for message in subscriber:
                received.append(bytes(message))
                if len(received) == 2:
                    break
            return sorted(received)

    assert asyncio.run(main()) == [b"1", b"2"]


def test_processes_share_the_work_through_one_durable(nats_url: str, stream: str) -> None:
    """A second process with the same durable name takes part of the work."""
    import subprocess
    import sys

    code = f"""
from proxyflow.shims.nats import JetStreamSubscriber
sub = JetStreamSubscriber({nats_url!r}, "a", durable="w", stream={stream!r})
print("ready", flush=True)
got = 0
try:
    while True:
        sub.next_message(timeout=3.0)
        got += 1
except TimeoutError:
    pass
print(got, flush=True)
sub.close()
"""
    here = JetStreamSubscriber(nats_url, "a", durable="w", stream=stream)
    other = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    try:
        assert other.stdout is not None
        assert other.stdout.readline().strip() == "ready"
        with JetStreamPublisher(nats_url, stream=stream) as publisher:
            for i in range(200):
                publisher.send_message("a", b"%d" % i)
        mine = 0
        try:
            while True:
                here.next_message(timeout=3.0)
                mine += 1
        except TimeoutError:
            pass
        theirs = int(other.stdout.readline())
        assert other.wait(30) == 0
    finally:
        other.kill()
        here.close()
    assert mine + theirs == 200
