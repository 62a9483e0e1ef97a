"""Queues shared by several consumers keep the producers' roster of their topics."""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from proxyflow.api import BackendFullError, Roster, WorkSharingPublisher, WorkSharingSubscriber
from proxyflow.shims.queue import (
    QueuePublisher,
    QueueSubscriber,
    RosterFullError,
    SharedQueue,
    WorkSharingQueueSubscriber,
    shared_queue,
)
from proxyflow.testing import PubSub, WorkSharingContract

SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture
def child(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The helpers spawned processes run (importable by name from this folder)."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    import queue_shim_child

    return queue_shim_child


def _harness(make_queue: Any) -> Iterator[PubSub]:
    """One queue for every topic, as a publisher shares it among subscribers."""
    shared = make_queue()
    subscribers: list[QueueSubscriber] = []

    def subscribe(topics: Sequence[str]) -> QueueSubscriber:
        subscriber = QueueSubscriber(shared, topics=topics)
        subscribers.append(subscriber)
        return subscriber

    publisher = QueuePublisher({"a": shared, "b": shared, "ab": shared})
    yield PubSub(publisher, subscribe)
    publisher.close()
    for subscriber in subscribers:
        subscriber.close()
    if isinstance(shared, SharedQueue):
        shared.close()
        shared.join_thread()


class TestThreadQueueRoster(WorkSharingContract):
    @pytest.fixture
    def pubsub(self) -> Iterator[PubSub]:
        yield from _harness(queue.Queue)


class TestSharedQueueRoster(WorkSharingContract):
    @pytest.fixture
    def pubsub(self) -> Iterator[PubSub]:
        yield from _harness(lambda: shared_queue(SPAWN))


@pytest.mark.parametrize(
    "make",
    [queue.Queue, queue.SimpleQueue, lambda: shared_queue(SPAWN), shared_queue],
    ids=["Queue", "SimpleQueue", "shared_queue(spawn)", "shared_queue()"],
)
def test_queues_with_a_roster_make_work_sharing_subscribers(make: Any) -> None:
    q = make()
    subscriber = QueueSubscriber(q, topics=["t"])
    assert type(subscriber) is WorkSharingQueueSubscriber
    assert isinstance(subscriber, QueueSubscriber)
    assert isinstance(subscriber, WorkSharingSubscriber)
    assert isinstance(QueuePublisher({"t": q}), WorkSharingPublisher)


@pytest.mark.parametrize(
    "make",
    [SPAWN.Queue, SPAWN.JoinableQueue, SPAWN.SimpleQueue],
    ids=["Queue", "JoinableQueue", "SimpleQueue"],
)
def test_plain_multiprocessing_queues_cannot_carry_a_roster(make: Any) -> None:
    q = make()
    subscriber = QueueSubscriber(q, topics=["t"])
    assert type(subscriber) is QueueSubscriber
    assert not isinstance(subscriber, WorkSharingSubscriber), "a consumer must count EOS"
    publisher = QueuePublisher({"t": q})
    publisher.join("t", b"p")  # records nothing, and says so in its docs
    publisher.leave("t", b"p")
    with pytest.raises(TypeError, match="shared_queue"):
        WorkSharingQueueSubscriber(q, topics=["t"])


def test_a_manager_queue_cannot_carry_a_roster() -> None:
    with SPAWN.Manager() as manager:
        subscriber = QueueSubscriber(manager.Queue(), topics=["t"])
        assert not isinstance(subscriber, WorkSharingSubscriber)


def test_four_producers_and_three_consumers_in_processes_all_end_with_everything(
    child: ModuleType,
) -> None:
    q = shared_queue(SPAWN)
    results: multiprocessing.Queue[list[bytes]] = SPAWN.Queue()
    count = 200
    ids = [b"p%d" % n for n in range(4)]
    consumers = [SPAWN.Process(target=child.consume, args=(q, len(ids), results)) for _ in range(3)]
    producers = [SPAWN.Process(target=child.produce, args=(q, pid, count)) for pid in ids]
    for process in consumers + producers:
        process.start()
    try:
        got = [results.get(timeout=60) for _ in consumers]
        for process in consumers + producers:
            process.join(30)
            assert process.exitcode == 0
    finally:
        for process in consumers + producers:
            if process.is_alive():
                process.terminate()
    everything = sorted(message for part in got for message in part)
    assert everything == sorted(pid + b":%d" % i for pid in ids for i in range(count))
    assert QueueSubscriber(q, topics=["work"]).roster("work") == Roster(  # type: ignore[attr-defined]
        frozenset(ids), frozenset(ids)
    )


def test_a_full_shared_roster_is_a_typed_error() -> None:
    q = shared_queue(SPAWN, roster_size=64)
    publisher = QueuePublisher({"t": q})
    error = None
    for n in range(100):
        try:
            publisher.join("t", b"producer-%d" % n)
        except RosterFullError as exc:
            error = exc
            break
    assert isinstance(error, BackendFullError)
    assert "roster_size" in str(error)
    joined = QueueSubscriber(q, topics=["t"]).roster("t").joined  # type: ignore[attr-defined]
    assert 0 < len(joined) < 100, "what fitted is kept"


def test_a_shared_roster_holds_any_topic_and_id() -> None:
    q = shared_queue(SPAWN)
    publisher = QueuePublisher({"tópico": q, "": q})
    publisher.join("tópico", bytes(range(255)))
    publisher.join("", b"\x00")
    publisher.leave("", b"\x00")
    subscriber = QueueSubscriber(q, topics=["tópico", ""])
    assert subscriber.roster("tópico") == Roster(frozenset({bytes(range(255))}), frozenset())  # type: ignore[attr-defined]
    assert subscriber.roster("").complete  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="255"):
        publisher.join("", bytes(256))


def test_roster_of_a_closed_subscriber_raises() -> None:
    subscriber = QueueSubscriber(queue.Queue(), topics=["t"])
    subscriber.close()
    with pytest.raises(EOFError):
        subscriber.roster("t")  # type: ignore[attr-defined]


def test_a_shared_queue_put_is_readable_at_once_in_another_process(child: ModuleType) -> None:
    """put() writes the pipe itself: a big message from a child arrives whole, nothing is left
    in a feeder thread when the child exits."""
    q = shared_queue(SPAWN)
    process = SPAWN.Process(target=child.publish, args=(q, 50))
    process.start()
    try:
        subscriber = QueueSubscriber(q, topics=["work"])
        received = [subscriber.next_message(timeout=20) for _ in range(51)]
    finally:
        process.join(20)
        if process.is_alive():
            process.kill()
    assert process.exitcode == 0
    assert received[:50] == [b"item-%d" % i for i in range(50)]
    assert received[50] == child.BIG


def test_a_shared_queue_honours_maxsize() -> None:
    q = shared_queue(SPAWN, maxsize=1)
    publisher = QueuePublisher({"t": q}, block=False)
    publisher.send_message("t", b"first")
    with pytest.raises(queue.Full):
        publisher.send_message("t", b"second")
    assert QueueSubscriber(q, topics=["t"]).next_message(timeout=5) == b"first"
    publisher.send_message("t", b"room again")
