"""ZeroMQ at full speed with default settings loses nothing, end-of-stream included.

A producer in a spawned process streams inline objects as fast as it can; the
consumer in the test process reads them with proxyflow's stream consumer. With
ZeroMQ's own default (drop messages for a subscriber that falls behind) these
runs lost 8% of 200k x 1 KiB objects and half of 20k x 64 KiB ones, including
the end-of-stream; the shim's default (``on_full="block"``) makes the
publisher wait for the subscriber instead.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from pfit.harness import SPAWN, wait_report
from pfit.roles import run_fast_zmq_producer

from proxyflow.shims.zmq import ZeroMQSubscriber
from proxyflow.stream import StreamConsumer


def stream_and_count(count: int, size: int, **options: Any) -> list[int]:
    """Run a full-speed stream; return the indexes the consumer received, in order."""
    topic = f"fast-{uuid.uuid4().hex[:8]}"
    reports = SPAWN.Queue()
    process = SPAWN.Process(
        target=run_fast_zmq_producer, args=(topic, count, size, options, reports), daemon=True
    )
    process.start()
    try:
        subscriber = ZeroMQSubscriber(wait_report(reports, "ready"), topic)
        received = []
        with StreamConsumer(subscriber, timeout=60) as consumer:
            for item in consumer:  # ends at the end-of-stream event
                received.append(int.from_bytes(bytes(item[:8]), "big"))
            assert consumer.stats.lost == count - len(received)  # counted, never silent
        wait_report(reports, "done", timeout=60)
        process.join(30)
        assert process.exitcode == 0
        return received
    finally:
        if process.is_alive():
            process.terminate()
            process.join(5)


@pytest.mark.slow
@pytest.mark.parametrize(("count", "size"), [(200_000, 1024), (20_000, 64 * 1024)])
def test_full_speed_with_defaults_loses_nothing(count: int, size: int) -> None:
    received = stream_and_count(count, size)
    assert len(received) == count, f"lost {count - len(received)} of {count}"
    assert received == list(range(count))


class SignalsWhenDrained:
    """A subscriber wrapper that sets ``drained`` the first time nothing is left to read."""

    def __init__(self, subscriber: ZeroMQSubscriber) -> None:
        self._subscriber = subscriber
        self.drained = threading.Event()
        self.received = 0

    @property
    def topics(self) -> tuple[str, ...]:
        return self._subscriber.topics

    def next_message(self, timeout: float | None = None) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                message = self._subscriber.next_message(timeout=0.2)
            except TimeoutError:
                if self.received:
                    self.drained.set()
                if deadline is not None and time.monotonic() >= deadline:
                    raise
                continue
            self.received += 1
            return message

    def __iter__(self) -> SignalsWhenDrained:
        return self

    def __next__(self) -> Any:
        return self.next_message()

    def close(self) -> None:
        self._subscriber.close()


def test_with_dropping_enabled_the_loss_is_measurable_and_the_end_arrives() -> None:
    """``on_full="drop"``: a stalled consumer loses objects; they are gaps in the sequence."""
    from proxyflow.shims.zmq import ZeroMQPublisher
    from proxyflow.stream import StreamProducer

    topic, count = "drop", 2000
    publisher = ZeroMQPublisher("tcp://127.0.0.1:*", sndhwm=10, on_full="drop", linger=0)
    raw = ZeroMQSubscriber(publisher.address, topic, rcvhwm=10)
    publisher.wait_for_subscribers(1, topic)
    subscriber = SignalsWhenDrained(raw)
    producer = StreamProducer(publisher)
    for index in range(count):  # nobody reads yet: most are dropped
        producer.send(topic, index.to_bytes(8, "big") + bytes(64 * 1024))

    def end_once_drained() -> None:
        subscriber.drained.wait(30)
        producer.close(topics=[topic])  # sent into empty queues: it arrives

    ender = threading.Thread(target=end_once_drained)
    ender.start()
    with StreamConsumer(subscriber, timeout=30) as consumer:
        received = [int.from_bytes(bytes(item[:8]), "big") for item in consumer]
        stats = consumer.stats
    ender.join(30)
    publisher.close()
    assert 0 < len(received) < count, "the stalled consumer lost objects"
    assert received == sorted(received)
    assert stats.lost == count - len(received)  # every lost object is counted
