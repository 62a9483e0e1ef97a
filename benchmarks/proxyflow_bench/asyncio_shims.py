"""Quick throughput of the asyncio queue and ZeroMQ shims against their sync forms, one run.

1 KiB messages; for each shim, both forms are measured in the same run:

* **one side at a time**: send ``N`` messages into an unbounded queue (ZeroMQ:
  unlimited high-water marks, the subscriber not reading), then receive them
  (messages per second of each side, one thread or one task);
* **stream**: a producer and a consumer at once (a queue of 1000; ZeroMQ's
  default marks and flow control): two threads for the sync form, two tasks
  on one event loop for the asyncio one. ZeroMQ runs on ``tcp://127.0.0.1``.

Prints messages per second and the async/sync ratio; asserts nothing.

    python -m proxyflow_bench.asyncio_shims [--shims queue,zmq] [--count N] [--repeat R]

(``hatch run bench:asyncio-shims``; from ``benchmarks/``, or with it on ``PYTHONPATH``.)
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, NamedTuple

from proxyflow.shims.queue import (
    AsyncQueuePublisher,
    AsyncQueueSubscriber,
    QueuePublisher,
    QueueSubscriber,
)
from proxyflow.shims.zmq import (
    AsyncZeroMQPublisher,
    AsyncZeroMQSubscriber,
    ZeroMQPublisher,
    ZeroMQSubscriber,
)

PAYLOAD = b"x" * 1024
ADDRESS = "tcp://127.0.0.1:*"

# -- queue shim ----------------------------------------------------------------------------


def queue_sync_sides(count: int) -> tuple[float, float]:
    """Send ``count`` messages, then receive them; messages per second of each side."""
    q: queue.Queue[bytes] = queue.Queue()
    publisher, subscriber = QueuePublisher({"t": q}), QueueSubscriber(q, topics=["t"])
    start = time.perf_counter()
    for _ in range(count):
        publisher.send_message("t", PAYLOAD)
    send = count / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(count):
        subscriber.next_message(timeout=5.0)
    return send, count / (time.perf_counter() - start)


async def queue_async_sides(count: int) -> tuple[float, float]:
    """The same with the asyncio classes, in one task."""
    q: asyncio.Queue[bytes] = asyncio.Queue()
    publisher, subscriber = AsyncQueuePublisher({"t": q}), AsyncQueueSubscriber(q, topics=["t"])
    start = time.perf_counter()
    for _ in range(count):
        await publisher.send_message("t", PAYLOAD)
    send = count / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(count):
        await subscriber.next_message(timeout=5.0)
    return send, count / (time.perf_counter() - start)


def queue_sync_stream(count: int) -> float:
    """A producer thread and this thread consuming through a queue of 1000: messages/s."""
    q: queue.Queue[bytes] = queue.Queue(maxsize=1000)
    publisher, subscriber = QueuePublisher({"t": q}), QueueSubscriber(q, topics=["t"])

    def produce() -> None:
        for _ in range(count):
            publisher.send_message("t", PAYLOAD)

    start = time.perf_counter()
    producer = threading.Thread(target=produce)
    producer.start()
    for _ in range(count):
        subscriber.next_message(timeout=5.0)
    producer.join()
    return count / (time.perf_counter() - start)


async def queue_async_stream(count: int) -> float:
    """A producer task and a consumer task on one loop, through a queue of 1000: messages/s."""
    q: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1000)
    publisher, subscriber = AsyncQueuePublisher({"t": q}), AsyncQueueSubscriber(q, topics=["t"])

    async def produce() -> None:
        for _ in range(count):
            await publisher.send_message("t", PAYLOAD)

    async def consume() -> None:
        for _ in range(count):
            await subscriber.next_message(timeout=5.0)

    start = time.perf_counter()
    await asyncio.gather(produce(), consume())
    return count / (time.perf_counter() - start)


# -- ZeroMQ shim ---------------------------------------------------------------------------


def zmq_sync_sides(count: int) -> tuple[float, float]:
    """Send ``count`` messages (nobody reads yet), then read them; messages/s of each side."""
    with (
        ZeroMQPublisher(ADDRESS, sndhwm=0) as publisher,
        ZeroMQSubscriber(publisher.address, "t", rcvhwm=0) as subscriber,
    ):
        publisher.wait_for_subscribers(1, "t")
        start = time.perf_counter()
        for _ in range(count):
            publisher.send_message("t", PAYLOAD)
        send = count / (time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(count):
            subscriber.next_message(timeout=10.0)
        return send, count / (time.perf_counter() - start)


async def zmq_async_sides(count: int) -> tuple[float, float]:
    """The same with the asyncio classes, in one task."""
    async with (
        AsyncZeroMQPublisher(ADDRESS, sndhwm=0) as publisher,
        AsyncZeroMQSubscriber(publisher.address, "t", rcvhwm=0) as subscriber,
    ):
        await publisher.wait_for_subscribers(1, "t")
        start = time.perf_counter()
        for _ in range(count):
            await publisher.send_message("t", PAYLOAD)
        send = count / (time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(count):
            await subscriber.next_message(timeout=10.0)
        return send, count / (time.perf_counter() - start)


def zmq_sync_stream(count: int) -> float:
    """A publisher thread and this thread reading, default marks: end-to-end messages/s."""
    with (
        ZeroMQPublisher(ADDRESS) as publisher,
        ZeroMQSubscriber(publisher.address, "t") as subscriber,
    ):
        publisher.wait_for_subscribers(1, "t")

        def produce() -> None:
            for _ in range(count):
                publisher.send_message("t", PAYLOAD)

        start = time.perf_counter()
        producer = threading.Thread(target=produce)
        producer.start()
        for _ in range(count):
            subscriber.next_message(timeout=10.0)
        producer.join()
        return count / (time.perf_counter() - start)


async def zmq_async_stream(count: int) -> float:
    """A publisher task and a reading task on one loop, default marks: messages/s."""
    async with (
        AsyncZeroMQPublisher(ADDRESS) as publisher,
        AsyncZeroMQSubscriber(publisher.address, "t") as subscriber,
    ):
        await publisher.wait_for_subscribers(1, "t")

        async def produce() -> None:
            for _ in range(count):
                await publisher.send_message("t", PAYLOAD)

        async def consume() -> None:
            for _ in range(count):
                await subscriber.next_message(timeout=10.0)

        start = time.perf_counter()
        await asyncio.gather(produce(), consume())
        return count / (time.perf_counter() - start)


# -- the table ------------------------------------------------------------------------------

Sides = Callable[[int], tuple[float, float]]
AsyncSides = Callable[[int], Coroutine[Any, Any, tuple[float, float]]]
Stream = Callable[[int], float]
AsyncStream = Callable[[int], Coroutine[Any, Any, float]]

CASES: dict[str, tuple[str, Sides, AsyncSides, Stream, AsyncStream]] = {
    "queue": (
        "queue shim",
        queue_sync_sides,
        queue_async_sides,
        queue_sync_stream,
        queue_async_stream,
    ),
    "zmq": (
        "ZeroMQ shim (tcp, loopback)",
        zmq_sync_sides,
        zmq_async_sides,
        zmq_sync_stream,
        zmq_async_stream,
    ),
}


class Row(NamedTuple):
    """One line of the table: a shim, a case, and both forms' messages per second."""

    shim: str
    case: str
    sync: float
    asynchronous: float

    @property
    def ratio(self) -> float:
        """asyncio over sync."""
        return self.asynchronous / self.sync


def best(repeat: int, measure: Callable[[int], Any], count: int) -> Any:
    """The best of ``repeat`` runs of ``measure(count)`` (per column for tuples)."""
    results = [measure(count) for _ in range(repeat)]
    if isinstance(results[0], tuple):
        return tuple(max(r[i] for r in results) for i in range(len(results[0])))
    return max(results)


def on_a_loop(measure: Callable[[int], Coroutine[Any, Any, Any]]) -> Callable[[int], Any]:
    """Run the coroutine function ``measure`` on a fresh event loop."""
    return lambda count: asyncio.run(measure(count))


def measure(shims: list[str], count: int, repeat: int) -> list[Row]:
    """Measure both cases of each shim in ``shims``, for both forms."""
    rows = []
    for name in shims:
        label, sides, async_sides, stream, async_stream = CASES[name]
        sync_send, sync_receive = best(repeat, sides, count)
        async_send, async_receive = best(repeat, on_a_loop(async_sides), count)
        sync_flow = best(repeat, stream, count)
        async_flow = best(repeat, on_a_loop(async_stream), count)
        rows += [
            Row(label, "send (one side)", sync_send, async_send),
            Row(label, "receive (one side)", sync_receive, async_receive),
            Row(label, "stream (both at once)", sync_flow, async_flow),
        ]
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the cases and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--shims", default="queue,zmq", help="comma-separated: queue, zmq")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    shims = args.shims.split(",")
    unknown = sorted(set(shims) - set(CASES))
    if unknown:
        parser.error(f"unknown shims {unknown}; choose from {sorted(CASES)}")
    rows = measure(shims, args.count, args.repeat)
    print(f"{args.count} messages of 1 KiB, best of {args.repeat}")
    print(f"{'':30} {'case':22} {'sync msg/s':>12} {'async msg/s':>12} {'async/sync':>10}")
    for row in rows:
        print(
            f"{row.shim:30} {row.case:22} {row.sync:12.0f} {row.asynchronous:12.0f} "
            f"{row.ratio:10.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
