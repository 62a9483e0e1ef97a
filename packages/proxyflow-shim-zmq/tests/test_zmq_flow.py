"""Flow control: by default a slow subscriber slows the publisher down; dropping is opt-in."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import pytest

from proxyflow.api import BackendTimeoutError
from proxyflow.shims.zmq import (
    PublisherClosedError,
    PublishTimeoutError,
    ZeroMQPublisher,
    ZeroMQSubscriber,
)

BIG = 64 * 1024


def numbered(index: int, size: int) -> bytes:
    """A message of ``size`` bytes that starts with its index."""
    return index.to_bytes(8, "big") + bytes(size - 8)


def index_of(message: bytes | memoryview) -> int:
    return int.from_bytes(bytes(message[:8]), "big")


def drain(subscriber: ZeroMQSubscriber, quiet: float = 0.5) -> list[int]:
    """Every message that arrives until none came for ``quiet`` seconds, as indexes."""
    got = []
    while True:
        try:
            got.append(index_of(subscriber.next_message(timeout=quiet)))
        except TimeoutError:
            return got


@pytest.fixture
def stalled() -> Iterator[tuple[ZeroMQPublisher, ZeroMQSubscriber]]:
    """A publisher with small queues and one subscriber that reads only when told."""
    publisher = ZeroMQPublisher("tcp://127.0.0.1:*", sndhwm=10, send_timeout=0.3, linger=0)
    subscriber = ZeroMQSubscriber(publisher.address, "t", rcvhwm=10)
    publisher.wait_for_subscribers(1, "t")
    yield publisher, subscriber
    subscriber.close()
    publisher.close()


def test_defaults_block_and_say_so() -> None:
    with ZeroMQPublisher("tcp://127.0.0.1:*") as publisher:
        assert publisher.on_full == "block"
        assert publisher.send_timeout == 60.0
        assert "on_full='block'" in repr(publisher)
    assert issubclass(PublishTimeoutError, TimeoutError)
    assert issubclass(PublishTimeoutError, BackendTimeoutError)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"on_full": "wait"}, "on_full"),
        ({"send_timeout": -1.0}, "send_timeout"),
        ({"linger": -1.0}, "linger"),
    ],
)
def test_bad_flow_options_are_refused(options: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ZeroMQPublisher("tcp://127.0.0.1:*", **options)  # type: ignore[arg-type]


def test_a_stalled_subscriber_blocks_the_publisher_and_loses_nothing(
    stalled: tuple[ZeroMQPublisher, ZeroMQSubscriber],
) -> None:
    publisher, subscriber = stalled
    total = 2000  # 128 MB: far more than the queues and socket buffers hold
    sent = 0
    error: PublishTimeoutError | None = None
    for index in range(total):
        try:
            publisher.send_message("t", numbered(index, BIG))
        except PublishTimeoutError as exc:
            error = exc
            break
        sent += 1
    assert error is not None, "the publisher must stop once the subscriber's queues are full"
    assert 0 < sent < total
    assert error.topic == "t"
    assert "on_full='drop'" in str(error)
    assert "send_timeout" in str(error)
    # Everything sent is delivered in order, and the message that timed out was not sent.
    assert drain(subscriber) == list(range(sent))
    # Once the subscriber reads again, the rest goes through too.
    reader_got: queue.Queue[list[int]] = queue.Queue()
    reader = threading.Thread(target=lambda: reader_got.put(drain(subscriber, quiet=2.0)))
    reader.start()
    for index in range(sent, total):
        publisher.send_message("t", numbered(index, BIG))
    reader.join(30)
    assert not reader.is_alive()
    assert reader_got.get(timeout=1) == list(range(sent, total))


def test_on_full_drop_loses_messages_for_a_stalled_subscriber() -> None:
    total = 2000
    with (
        ZeroMQPublisher(
            "tcp://127.0.0.1:*", sndhwm=10, on_full="drop", send_timeout=0.3, linger=0
        ) as publisher,
        ZeroMQSubscriber(publisher.address, "t", rcvhwm=10) as subscriber,
    ):
        publisher.wait_for_subscribers(1, "t")
        for index in range(total):  # never blocks, never raises
            publisher.send_message("t", numbered(index, BIG))
        got = drain(subscriber)
    assert 0 < len(got) < total, "the excess must have been dropped"
    assert got == sorted(got), "what arrives keeps its order"
    assert got[0] == 0


def test_close_from_another_thread_ends_a_blocked_send() -> None:
    blocked = ZeroMQPublisher("tcp://127.0.0.1:*", sndhwm=1, send_timeout=None, linger=0)
    subscriber = ZeroMQSubscriber(blocked.address, "t", rcvhwm=1)
    outcome: queue.Queue[BaseException | int] = queue.Queue()
    blocked.wait_for_subscribers(1, "t")

    def flood() -> None:
        try:
            for index in range(100_000):
                blocked.send_message("t", numbered(index, BIG))
            outcome.put(-1)
        except BaseException as exc:
            outcome.put(exc)

    sender = threading.Thread(target=flood)
    sender.start()
    with pytest.raises(queue.Empty):  # blocked: no outcome while the subscriber stalls
        outcome.get(timeout=0.5)
    blocked.close()
    sender.join(10)
    assert not sender.is_alive()
    error = outcome.get(timeout=1)
    assert isinstance(error, PublisherClosedError)
    assert "was not sent" in str(error)
    subscriber.close()


def _stream(publisher: ZeroMQPublisher, count: int, size: int) -> None:
    for index in range(count):
        publisher.send_message("t", numbered(index, size))
    publisher.send_message("t", b"END")


@pytest.mark.parametrize(("count", "size"), [(200_000, 1024), (5_000, BIG)])
def test_full_speed_with_defaults_loses_nothing(count: int, size: int) -> None:
    """The publisher sends as fast as it can; the subscriber reads as fast as it can."""
    with (
        ZeroMQPublisher("tcp://127.0.0.1:*") as publisher,
        ZeroMQSubscriber(publisher.address, "t") as subscriber,
    ):
        publisher.wait_for_subscribers(1, "t")
        failures: list[BaseException] = []

        def send() -> None:
            try:
                _stream(publisher, count, size)
            except BaseException as exc:
                failures.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        expected = 0
        while True:
            message = subscriber.next_message(timeout=30)
            if bytes(message) == b"END":
                break
            assert index_of(message) == expected, "no message lost, none reordered"
            expected += 1
        sender.join(30)
        assert not failures
    assert expected == count
