"""What the durable-broker benchmark's cases share: the result type and the measuring loop.

Each case of ``proxyflow_bench.durable`` (Redis) and ``proxyflow_bench.durable_nats``
(JetStream) measures alike: ``N`` sends, ``N`` receives each acknowledged with
the broker's confirmation, and ``L`` round trips of one message. The shims'
cases all run the same loop over a publisher and an acknowledging subscriber
(`measure_acking`); the raw client cases write theirs out.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, NamedTuple

__all__ = ["PAYLOAD", "Measure", "measure_acking", "median_us", "rate"]

PAYLOAD = b"x" * 1024
"""The message every case sends (1 KiB)."""


class Measure(NamedTuple):
    """One run of one case: messages per second (``None``: not measured) and median µs."""

    publish: float | None
    consume: float | None
    latency_us: float


def rate(count: int, start: float) -> float:
    """Messages per second for ``count`` messages since ``start`` (``perf_counter``)."""
    return count / (time.perf_counter() - start)


def median_us(samples: list[float]) -> float:
    """The median of ``samples`` (seconds), in microseconds."""
    return statistics.median(samples) * 1e6


def measure_acking(publisher: Any, subscriber: Any, count: int, rounds: int) -> Measure:
    """Publish ``count``, receive and ack ``count``, then time ``rounds`` round trips."""
    start = time.perf_counter()
    for _ in range(count):
        publisher.send_message("a", PAYLOAD)
    publish = rate(count, start)
    start = time.perf_counter()
    for _ in range(count):
        subscriber.next_delivery(timeout=5.0).ack()
    consume = rate(count, start)
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        publisher.send_message("a", PAYLOAD)
        subscriber.next_delivery(timeout=5.0).ack()
        samples.append(time.perf_counter() - start)
    return Measure(publish, consume, median_us(samples))
