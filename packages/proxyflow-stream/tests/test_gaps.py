"""Lost and repeated events, timeouts that say what is open, and ends on work-sharing queues."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from proxyflow.shims.queue import QueuePublisher, QueueSubscriber
from proxyflow.stream import (
    ConsumerTimeoutError,
    EventsLostError,
    StreamConsumer,
    StreamProducer,
)
from proxyflow.stream.events import EndOfStreamEvent, NewObjectEvent, encode_event
from proxyflow.stream.protocols import Message

PID = b"producer"


class FanOut:
    """A fan-out subscriber over a list of messages (no roster): every event is seen."""

    def __init__(self, messages: list[bytes], topics: tuple[str, ...] = ("t",)) -> None:
        self._messages = list(messages)
        self.topics = topics

    def next_message(self, timeout: float | None = None) -> Message:
        if not self._messages:
            raise TimeoutError("nothing left")
        return self._messages.pop(0)

    def __iter__(self) -> Iterator[Message]:
        return iter(self._messages)

    def close(self) -> None:
        pass


def item(seq: int, value: str, topic: str = "t", pid: bytes = PID) -> bytes:
    return encode_event(NewObjectEvent(pid, topic, seq, "default", _payload(value), {}))


def end(seq: int, topic: str = "t", pid: bytes = PID) -> bytes:
    return encode_event(EndOfStreamEvent(pid, topic, seq))


def _payload(value: str) -> bytes:
    from proxyflow.serialize import serialize

    return bytes(serialize(value))


def test_gaps_and_tail_loss_are_counted() -> None:
    messages = [item(0, "a"), item(1, "b"), item(3, "d"), end(5)]
    consumer = StreamConsumer(FanOut(messages), timeout=1, on_gap="count")
    assert list(consumer) == ["a", "b", "d"]
    assert consumer.stats.lost == 2  # seq 2, and seq 4 before the end-of-stream
    assert consumer.stats.duplicates == 0


def test_duplicates_are_dropped_and_counted() -> None:
    messages = [item(0, "a"), item(1, "b"), item(1, "b"), item(0, "a"), end(2)]
    consumer = StreamConsumer(FanOut(messages), timeout=1)
    assert list(consumer) == ["a", "b"]
    assert consumer.stats.duplicates == 2
    assert consumer.stats.lost == 0


def test_producers_are_tracked_separately() -> None:
    messages = [item(0, "a", pid=b"one"), item(0, "x", pid=b"two"), item(1, "b", pid=b"one")]
    messages += [end(2, pid=b"one"), end(1, pid=b"two")]
    consumer = StreamConsumer(FanOut(messages), timeout=1, producers_per_topic=2)
    assert list(consumer) == ["a", "x", "b"]
    assert consumer.stats.lost == 0


def test_on_gap_raise_keeps_the_event_that_revealed_the_gap() -> None:
    messages = [item(0, "a"), item(4, "e"), end(5)]
    consumer = StreamConsumer(FanOut(messages), timeout=1, on_gap="raise")
    assert consumer.next() == "a"
    with pytest.raises(EventsLostError) as info:
        consumer.next()
    assert (info.value.expected, info.value.received, info.value.lost) == (1, 4, 3)
    assert info.value.producer_id == PID
    assert info.value.topic == "t"
    assert "3 event(s)" in str(info.value)
    assert consumer.next() == "e"
    assert list(consumer) == []


def test_on_gap_warn_logs(caplog: pytest.LogCaptureFixture) -> None:
    consumer = StreamConsumer(FanOut([item(2, "c"), end(3)]), timeout=1)
    with caplog.at_level(logging.WARNING, logger="proxyflow.stream"):
        assert list(consumer) == ["c"]
    assert consumer.stats.lost == 2
    assert any("were lost" in record.getMessage() for record in caplog.records)


def test_unknown_on_gap_is_refused() -> None:
    with pytest.raises(ValueError, match="on_gap"):
        StreamConsumer(FanOut([]), on_gap="ignore")  # type: ignore[arg-type]


def test_timeout_names_open_topics_and_ends_seen() -> None:
    messages = [end(0, topic="a", pid=b"one")]
    consumer = StreamConsumer(
        FanOut(messages, topics=("a", "b")), timeout=0.01, producers_per_topic={"a": 2}
    )
    with pytest.raises(ConsumerTimeoutError) as info:
        consumer.next()
    text = str(info.value)
    assert "'a' (1 of 2 end-of-stream events seen)" in text
    assert "'b' (0 of 1" in text


def test_timeout_on_a_work_sharing_queue_reports_the_roster() -> None:
    q: queue.Queue[bytes] = queue.Queue()
    producer: StreamProducer[int] = StreamProducer(QueuePublisher({"t": q}))
    producer.send("t", 1)
    consumer: StreamConsumer[int] = StreamConsumer(QueueSubscriber(q, topics=["t"]), timeout=0.2)
    assert consumer.next() == 1
    with pytest.raises(ConsumerTimeoutError, match="roster: 1 joined, 0 left"):
        consumer.next()


@pytest.mark.parametrize("batch_size", [1, 3])
def test_four_producers_three_consumers_on_a_shared_queue(batch_size: int) -> None:
    q: queue.Queue[bytes] = queue.Queue()
    received: list[list[Any]] = [[] for _ in range(3)]
    errors: list[BaseException] = []
    start = threading.Barrier(7)

    def consume(index: int) -> None:
        consumer: StreamConsumer[Any] = StreamConsumer(QueueSubscriber(q, topics=["t"]), timeout=30)
        start.wait()
        try:
            received[index].extend(consumer)
        except BaseException as exc:  # reported below
            errors.append(exc)

    def produce(index: int) -> None:
        start.wait()
        with StreamProducer(QueuePublisher({"t": q}), batch_size=batch_size) as producer:
            for i in range(200):
                producer.send("t", (index, i))
            producer.close_topics("t")

    threads = [threading.Thread(target=consume, args=(i,)) for i in range(3)]
    threads += [threading.Thread(target=produce, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors
    everything = [obj for share in received for obj in share]
    assert sorted(everything) == [(p, i) for p in range(4) for i in range(200)]


def test_a_work_sharing_consumer_waits_for_the_producers_it_expects() -> None:
    q: queue.Queue[bytes] = queue.Queue()
    consumer: StreamConsumer[int] = StreamConsumer(
        QueueSubscriber(q, topics=["t"]), timeout=0.3, producers_per_topic=2
    )
    with StreamProducer(QueuePublisher({"t": q})) as first:
        first.send("t", 1)
        first.close_topics("t")
    assert consumer.next() == 1
    with pytest.raises(ConsumerTimeoutError, match="roster: 1 joined, 1 left"):
        consumer.next()  # one producer is done, the second has not joined yet
    with StreamProducer(QueuePublisher({"t": q})) as second:
        second.send("t", 2)
        second.close_topics("t")
    assert list(consumer) == [2]
    assert consumer.ended


def test_gaps_are_not_tracked_on_a_work_sharing_queue() -> None:
    q: queue.Queue[bytes] = queue.Queue()
    with StreamProducer(QueuePublisher({"t": q})) as producer:
        for i in range(6):
            producer.send("t", i)
        producer.close_topics("t")
    first = StreamConsumer(QueueSubscriber(q, topics=["t"]), timeout=5)
    assert first.next() == 0
    q.get_nowait()  # another consumer of the queue takes an event
    assert list(first) == [2, 3, 4, 5]
    assert first.stats.lost == 0  # the others' share is not loss
