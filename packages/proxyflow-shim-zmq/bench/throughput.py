"""Quick throughput of the asyncio ZeroMQ shim against the sync one, 1 KiB messages, one run.

Real sockets on loopback TCP, both forms measured in the same run:

* **one side at a time**: with unlimited high-water marks, send ``N``
  messages while the subscriber does not read, then read them all
  (messages per second of each side);
* **stream**: publisher and subscriber at once with the default marks
  (1000) and flow control: a publisher thread and a reading thread for the
  sync form, two tasks on one event loop for the asyncio one.

Prints messages per second and the async/sync ratio; asserts nothing.

    python packages/proxyflow-shim-zmq/bench/throughput.py [--count N] [--repeat R]
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from proxyflow.shims.zmq import (
    AsyncZeroMQPublisher,
    AsyncZeroMQSubscriber,
    ZeroMQPublisher,
    ZeroMQSubscriber,
)

PAYLOAD = b"x" * 1024
ADDRESS = "tcp://127.0.0.1:*"


def sync_sides(count: int) -> tuple[float, float]:
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


async def async_sides(count: int) -> tuple[float, float]:
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


def sync_stream(count: int) -> float:
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


async def async_stream(count: int) -> float:
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
    print(f"ZeroMQ shim over tcp://127.0.0.1, {n} messages of 1 KiB, best of {r}")
    print(f"{'':28} {'sync msg/s':>12} {'async msg/s':>12} {'async/sync':>10}")
    for label, sync, asynchronous in (
        ("send (one side)", sync_send, async_send),
        ("receive (one side)", sync_receive, async_receive),
        ("stream (both at once)", sync_flow, async_flow),
    ):
        print(f"{label:28} {sync:12.0f} {asynchronous:12.0f} {asynchronous / sync:10.2f}")


if __name__ == "__main__":
    main()
