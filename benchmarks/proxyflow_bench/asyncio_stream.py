"""Throughput of the asyncio stream against the sync stream, one run, 1 KiB objects.

For each shim (the queue shim, ZeroMQ on ``tcp://127.0.0.1``, Redis lists)
and each way objects travel (``inline`` in the events, or ``file``: a file
store in a temporary directory, the consumer reading and evicting each
object), a producer sends ``N`` objects of 1 KiB and ends the topic while a
consumer reads them all, resolved:

* **sync**: ``StreamProducer`` in a thread, ``StreamConsumer.iter_objects()``
  in this one;
* **asyncio**: ``AsyncStreamProducer`` and ``AsyncStreamConsumer.iter_objects()``
  as two tasks on one event loop (file reads and writes in worker threads).

* **hand-written asyncio** (the same run): the transport's own asyncio
  client carrying the payload, or the name of a file written and read in
  worker threads (``proxyflow_bench.asyncio_raw``), for the cost that asyncio
  and the client library add before proxyflow does anything.

Prints objects per second, the asyncio/sync ratio and the asyncio stream's
ratio to the hand-written code; asserts nothing.

    python -m proxyflow_bench.asyncio_stream [--shims queue,zmq,redis] [--stores inline,file]
        [--count N] [--repeat R] [--redis-url URL]

(``hatch run bench:asyncio-stream``; from ``benchmarks/``, or with it on ``PYTHONPATH``.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import queue
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from proxyflow.connectors.file import FileConnector
from proxyflow.store import Store
from proxyflow.stream import (
    AsyncStreamConsumer,
    AsyncStreamProducer,
    StreamConsumer,
    StreamProducer,
)
from proxyflow_bench.asyncio_raw import raw_stream

PAYLOAD = b"x" * 1024
ADDRESS = "tcp://127.0.0.1:*"
TOPIC = "bench"


class Pair(NamedTuple):
    """A publisher and a subscriber of ``TOPIC``, ready to use."""

    publisher: Any
    subscriber: Any


# -- brokers: one context manager per shim and form ------------------------------------------


@contextlib.contextmanager
def sync_pair(shim: str, redis_url: str) -> Iterator[Pair]:
    """A sync publisher and subscriber of ``shim``; closed by the stream (or here)."""
    if shim == "queue":
        from proxyflow.shims.queue import QueuePublisher, QueueSubscriber

        q: queue.Queue[bytes] = queue.Queue(maxsize=1000)
        yield Pair(QueuePublisher({TOPIC: q}), QueueSubscriber(q, topics=[TOPIC]))
    elif shim == "zmq":
        from proxyflow.shims.zmq import ZeroMQPublisher, ZeroMQSubscriber

        publisher = ZeroMQPublisher(ADDRESS)
        subscriber = ZeroMQSubscriber(publisher.address, TOPIC)
        publisher.wait_for_subscribers(1, TOPIC)
        yield Pair(publisher, subscriber)
    else:
        from proxyflow.shims.redis import RedisQueuePublisher, RedisQueueSubscriber

        prefix = f"proxyflow-bench:{uuid.uuid4().hex}:"
        yield Pair(
            RedisQueuePublisher(redis_url, prefix=prefix),
            RedisQueueSubscriber(redis_url, [TOPIC], prefix=prefix),
        )


@contextlib.asynccontextmanager
async def async_pair(shim: str, redis_url: str) -> AsyncIterator[Pair]:
    """The asyncio publisher and subscriber of ``shim``."""
    if shim == "queue":
        from proxyflow.shims.queue import AsyncQueuePublisher, AsyncQueueSubscriber

        q: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1000)
        yield Pair(AsyncQueuePublisher({TOPIC: q}), AsyncQueueSubscriber(q, topics=[TOPIC]))
    elif shim == "zmq":
        from proxyflow.shims.zmq import AsyncZeroMQPublisher, AsyncZeroMQSubscriber

        publisher = AsyncZeroMQPublisher(ADDRESS)
        subscriber = AsyncZeroMQSubscriber(publisher.address, TOPIC)
        await publisher.wait_for_subscribers(1, TOPIC)
        yield Pair(publisher, subscriber)
    else:
        from proxyflow.shims.redis import AsyncRedisQueuePublisher, AsyncRedisQueueSubscriber

        prefix = f"proxyflow-bench:{uuid.uuid4().hex}:"
        yield Pair(
            await AsyncRedisQueuePublisher(redis_url, prefix=prefix).open(),
            await AsyncRedisQueueSubscriber(redis_url, [TOPIC], prefix=prefix).open(),
        )


def new_store(kind: str, directory: Path) -> Store | None:
    """``None`` for inline objects, else a file store in a directory of its own."""
    if kind == "inline":
        return None
    return Store(f"bench-{uuid.uuid4().hex[:8]}", FileConnector(directory / uuid.uuid4().hex))


# -- the two forms -------------------------------------------------------------------------


def sync_stream(shim: str, store_kind: str, count: int, redis_url: str, directory: Path) -> float:
    """A producer thread and this thread consuming: objects per second."""
    with sync_pair(shim, redis_url) as pair:
        producer = StreamProducer(pair.publisher, default_store=new_store(store_kind, directory))
        consumer: StreamConsumer[bytes] = StreamConsumer(pair.subscriber, timeout=30)

        def produce() -> None:
            for _ in range(count):
                producer.send(TOPIC, PAYLOAD)
            producer.close(topics=[TOPIC])

        start = time.perf_counter()
        thread = threading.Thread(target=produce)
        thread.start()
        received = sum(1 for _ in consumer.iter_objects())
        thread.join()
        elapsed = time.perf_counter() - start
        consumer.close()
    if received != count:
        raise RuntimeError(f"sync {shim}/{store_kind}: received {received} of {count}")
    return count / elapsed


async def async_stream(
    shim: str, store_kind: str, count: int, redis_url: str, directory: Path
) -> float:
    """A producer task and a consumer task on one loop: objects per second."""
    async with async_pair(shim, redis_url) as pair:
        producer = AsyncStreamProducer(
            pair.publisher, default_store=new_store(store_kind, directory)
        )
        consumer: AsyncStreamConsumer[bytes] = AsyncStreamConsumer(pair.subscriber, timeout=30)

        async def produce() -> None:
            for _ in range(count):
                await producer.send(TOPIC, PAYLOAD)
            await producer.close(topics=[TOPIC])

        async def consume() -> int:
            return sum([1 async for _ in consumer.iter_objects()])

        start = time.perf_counter()
        _, received = await asyncio.gather(produce(), consume())
        elapsed = time.perf_counter() - start
        await consumer.close()
    if received != count:
        raise RuntimeError(f"asyncio {shim}/{store_kind}: received {received} of {count}")
    return count / elapsed


def run_raw(shim: str, store_kind: str, count: int, redis_url: str, directory: Path) -> float:
    """The hand-written asyncio baseline on a fresh event loop."""
    return asyncio.run(raw_stream(shim, store_kind, count, redis_url, directory, PAYLOAD))


def run_async(shim: str, store_kind: str, count: int, redis_url: str, directory: Path) -> float:
    """`async_stream` on a fresh event loop."""
    return asyncio.run(async_stream(shim, store_kind, count, redis_url, directory))


# -- the table ------------------------------------------------------------------------------

SHIMS = {"queue": "queue shim", "zmq": "ZeroMQ (tcp, loopback)", "redis": "Redis lists"}
STORES = ("inline", "file")


class Row(NamedTuple):
    """One line of the table: a shim, where objects travel, both forms' objects per second."""

    shim: str
    store: str
    sync: float
    asynchronous: float
    hand_written: float

    @property
    def ratio(self) -> float:
        """asyncio over sync."""
        return self.asynchronous / self.sync

    @property
    def raw_ratio(self) -> float:
        """The asyncio stream over hand-written asyncio code."""
        return self.asynchronous / self.hand_written


def best(repeat: int, run: Callable[[], float]) -> float:
    """The best of ``repeat`` runs."""
    return max(run() for _ in range(repeat))


def measure(
    shims: list[str], stores: list[str], count: int, repeat: int, redis_url: str
) -> list[Row]:
    """Measure every shim and store kind in both forms."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="proxyflow-bench-") as tmp:
        directory = Path(tmp)
        for shim in shims:
            for kind in stores:
                case = (shim, kind, count, redis_url, directory)
                sync = best(repeat, functools.partial(sync_stream, *case))
                asynchronous = best(repeat, functools.partial(run_async, *case))
                raw = best(repeat, functools.partial(run_raw, *case))
                rows.append(Row(SHIMS[shim], kind, sync, asynchronous, raw))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the cases and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--shims", default="queue,zmq,redis", help="comma-separated")
    parser.add_argument("--stores", default="inline,file", help="comma-separated")
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--redis-url", default="redis://localhost:6379/0")
    args = parser.parse_args(argv)
    shims, stores = args.shims.split(","), args.stores.split(",")
    unknown = sorted(set(shims) - set(SHIMS)) + sorted(set(stores) - set(STORES))
    if unknown:
        parser.error(f"unknown shims or stores {unknown}; choose from {sorted(SHIMS)}, {STORES}")
    rows = measure(shims, stores, args.count, args.repeat, args.redis_url)
    print(f"{args.count} objects of 1 KiB, best of {args.repeat}")
    print(
        f"{'':24} {'objects':8} {'sync obj/s':>12} {'async obj/s':>12} {'hand obj/s':>12} "
        f"{'async/sync':>10} {'async/hand':>10}"
    )
    for row in rows:
        print(
            f"{row.shim:24} {row.store:8} {row.sync:12.0f} {row.asynchronous:12.0f} "
            f"{row.hand_written:12.0f} {row.ratio:10.2f} {row.raw_ratio:10.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
