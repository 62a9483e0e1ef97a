"""A Redis restart mid-stream: pub/sub loss is reported, never silent; a list's loss is loud."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import pytest

from proxyflow.shims.redis import (
    BrokerConnectionError,
    MessageNotReceivedError,
    RedisPublisher,
    RedisQueuePublisher,
    RedisQueueSubscriber,
    RedisSubscriber,
)
from proxyflow.testing.redis_server import RedisServer, RedisServerUnavailableError

FAST = {"socket_timeout": 2.0, "connect_timeout": 2.0}


@pytest.fixture
def server() -> Iterator[RedisServer]:
    private = RedisServer()
    try:
        private.start()
    except RedisServerUnavailableError as exc:
        pytest.skip(f"no redis-server: {exc}")
    yield private
    private.stop()


def seq(message: bytes) -> int:
    return int(message)


class Reader:
    """Reads a subscriber in a thread until it receives ``b"END"``."""

    def __init__(self, subscriber: RedisSubscriber) -> None:
        self.subscriber = subscriber
        self.got: queue.Queue[bytes] = queue.Queue()
        self.failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                message = self.subscriber.next_message(timeout=30)
                self.got.put(message)
                if message == b"END":
                    return
        except BaseException as exc:
            self.failure.append(exc)

    def wait_for(self, count: int) -> list[bytes]:
        return [self.got.get(timeout=10) for _ in range(count)]

    def finish(self) -> list[bytes]:
        self._thread.join(30)
        assert not self._thread.is_alive(), "the subscriber never received END"
        assert not self.failure, self.failure
        rest = []
        while not self.got.empty():
            rest.append(self.got.get_nowait())
        return rest


def test_a_restart_is_reported_by_the_publisher_and_the_subscriber_comes_back(
    server: RedisServer,
) -> None:
    """Every message published after the crash either arrives or is reported to its sender."""
    subscriber = RedisSubscriber(server.url, "t", poll_interval=0.05, **FAST)
    publisher = RedisPublisher(server.url, min_receivers=1, **FAST)
    reader = Reader(subscriber)
    before = 50
    for i in range(before):
        publisher.send_message("t", b"%d" % i)
    assert [seq(m) for m in reader.wait_for(before)] == list(range(before))

    server.kill()
    server.restart()  # empty, same port: the subscriber's subscription is gone

    reported: set[int] = set()
    delivered: set[int] = set()
    i = before
    while len(delivered) < 50:  # until the subscriber is back and 50 more arrived
        assert i < 100_000, "the subscriber never came back"
        try:
            publisher.send_message("t", b"%d" % i)
            delivered.add(i)
        except (BrokerConnectionError, MessageNotReceivedError):
            reported.add(i)
        i += 1
    while True:
        try:
            publisher.send_message("t", b"END")
            break
        except MessageNotReceivedError:
            continue
    received = [seq(m) for m in reader.finish() if m != b"END"]

    assert reported, "the crash must have been reported to the publisher"
    assert subscriber.reconnects == 1
    assert publisher.reconnects == 1
    assert received == sorted(delivered), "every confirmed message arrives, in order"
    assert set(range(before, i)) == reported | delivered, "no message is silently lost"
    subscriber.close()
    publisher.close()


def test_without_min_receivers_unreceived_counts_what_nobody_got(server: RedisServer) -> None:
    subscriber = RedisSubscriber(server.url, "t", poll_interval=0.05, **FAST)
    publisher = RedisPublisher(server.url, **FAST)
    publisher.send_message("t", b"0")
    assert subscriber.next_message(timeout=5) == b"0"
    server.kill()
    server.restart()
    failed = 0
    for i in range(1, 21):  # the subscriber reads nothing meanwhile, so it is not back yet
        try:
            publisher.send_message("t", b"%d" % i)
        except BrokerConnectionError:
            failed += 1
    publisher.flush()
    assert failed >= 1, "the send that met the dead connection raises"
    assert publisher.unreceived == 20 - failed, "the others reached no subscriber, and say so"
    # Once the subscriber reads again it resubscribes and receives what follows.
    got = None
    while got is None:
        publisher.send_message("t", b"after")
        try:
            got = subscriber.next_message(timeout=0.2)
        except TimeoutError:
            continue
    assert got == b"after"
    assert subscriber.reconnects == 1
    subscriber.close()
    publisher.close()


def test_a_list_backlog_lost_in_a_restart_is_reported_by_both_sides(server: RedisServer) -> None:
    publisher = RedisQueuePublisher(server.url, **FAST)
    worker = RedisQueueSubscriber(server.url, "jobs", **FAST)
    publisher.join("jobs", b"p")
    for i in range(10):
        publisher.send_message("jobs", b"%d" % i)
    assert worker.next_message(timeout=5) == b"0"
    server.kill()
    server.restart()  # no persistence: the nine waiting messages and the roster are gone
    with pytest.raises(BrokerConnectionError, match="lost"):
        worker.next_message(timeout=5)
    with pytest.raises(BrokerConnectionError):
        worker.next_message(timeout=0)  # the worker does not carry on as if nothing happened
    with pytest.raises(BrokerConnectionError):
        publisher.send_message("jobs", b"10")  # the send that meets the restart
    publisher.send_message("jobs", b"11")  # then the publisher reconnects
    assert publisher.reconnects == 1
    with RedisQueueSubscriber(server.url, "jobs", **FAST) as fresh:
        assert fresh.roster("jobs").joined == frozenset(), "the roster went with the restart"
        assert fresh.next_message(timeout=5) == b"11"
    worker.close()
    publisher.close()
