"""ZeroMQ at full speed with default settings loses nothing, end-of-stream included.

A producer in a spawned process streams inline objects as fast as it can; the
consumer in the test process reads them with proxyflow's stream consumer. With
ZeroMQ's own default (drop messages for a subscriber that falls behind) these
runs lost 8% of 200k x 1 KiB objects and half of 20k x 64 KiB ones, including
the end-of-stream; the shim's default (``on_full="block"``) makes the
publisher wait for the subscriber instead.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pfit.harness import SPAWN, wait_report

from proxyflow.shims.zmq import ZeroMQSubscriber
from proxyflow.stream import StreamConsumer


def produce(topic: str, count: int, size: int, options: dict[str, Any], reports: Any) -> None:
    """Process target: bind a publisher, wait for one subscriber, stream ``count`` objects."""
    from proxyflow.shims.zmq import ZeroMQPublisher
    from proxyflow.stream import StreamProducer

    try:
        publisher = ZeroMQPublisher("tcp://127.0.0.1:*", **options)
        reports.put(("ready", publisher.address))
        publisher.wait_for_subscribers(1, topic, timeout=30)
        with StreamProducer(publisher) as producer:
            body = bytes(size - 8)
            for index in range(count):
                producer.send(topic, index.to_bytes(8, "big") + body)
            producer.close(topics=[topic])
        reports.put(("done", count))
    except BaseException as exc:
        reports.put(("error", f"{type(exc).__name__}: {exc}"))
        raise


def stream_and_count(count: int, size: int, **options: Any) -> list[int]:
    """Run a full-speed stream; return the indexes the consumer received, in order."""
    topic = f"fast-{uuid.uuid4().hex[:8]}"
    reports = SPAWN.Queue()
    process = SPAWN.Process(
        target=produce, args=(topic, count, size, options, reports), daemon=True
    )
    process.start()
    try:
        subscriber = ZeroMQSubscriber(wait_report(reports, "ready"), topic)
        received = []
        with StreamConsumer(subscriber, timeout=60) as consumer:
            for item in consumer:  # ends at the end-of-stream event
                received.append(int.from_bytes(bytes(item[:8]), "big"))
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
