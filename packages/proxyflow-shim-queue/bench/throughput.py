"""Quick throughput of the asyncio queue shim against the sync one, 1 KiB messages, one run.

Two cases, each measured for both forms:

* **one side at a time**: send ``N`` messages into an unbounded queue, then
  receive them (messages per second of each side, one thread or one task);
* **stream**: a producer and a consumer at once through a queue of 1000
  (threads for the sync form, two tasks on one event loop for the asyncio one).

Prints messages per second and the async/sync ratio; asserts nothing.

    python packages/proxyflow-shim-queue/bench/throughput.py [--count N] [--repeat R]
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from proxyflow.shims.queue import (
    AsyncQueuePublisher,
    AsyncQueueSubscriber,
    QueuePublisher,
    QueueSubscriber,
)

PAYLOAD = b"x" * 1024


def sync_sides(count: int) -> tuple[float, float]:
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


async def async_sides(count: int) -> tuple[float, float]:
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


def sync_stream(count: int) -> float:
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


async def async_stream(count: int) -> float:
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


def best(repeat: int, make: Callable[[], Any]) -> Any:
    """The best of ``repeat`` runs (per column for tuples)."""
    results = [make() for _ in range(repeat)]
    if isinstance(results[0], tuple):
        return tuple(max(r[i] for r in results) for i in range(len(results[0])))
    return max(results)


def main() -> None:
    """Run both cases for both forms and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n, r = args.count, args.repeat
    sync_send, sync_receive = best(r, lambda: sync_sides(n))
    async_send, async_receive = best(r, lambda: asyncio.run(async_sides(n)))
    sync_flow = best(r, lambda: sync_stream(n))
    async_flow = best(r, lambda: asyncio.run(async_stream(n)))
    print(f"queue shim, {n} messages of 1 KiB, best of {r}")
    print(f"{'':28} {'sync msg/s':>12} {'async msg/s':>12} {'async/sync':>10}")
    for label, sync, asynchronous in (
        ("send (one side)", sync_send, async_send),
        ("receive (one side)", sync_receive, async_receive),
        ("stream (both at once)", sync_flow, async_flow),
    ):
        print(f"{label:28} {sync:12.0f} {asynchronous:12.0f} {asynchronous / sync:10.2f}")


if __name__ == "__main__":
    main()
