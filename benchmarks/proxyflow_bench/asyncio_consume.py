"""The asyncio consumer reading objects of a Redis store: on the loop against a thread.

For each size (1 KiB and 1 MiB by default), ``N`` byte objects are sent
through a Redis store (``evict=True``) and their events queued in memory, the
topic is ended, then one consumer alone reads every object; only the reading
is timed. The forms:

* **asyncio native**: ``AsyncStreamConsumer.iter_objects()`` over an
  ``asyncio.Queue``; the store's connector reads on the loop
  (``Store.get_async`` -> ``RedisConnector.get_async``, ``redis.asyncio``);
* **asyncio thread**: the same, with a connector whose ``get_async`` is
  hidden, so every read runs ``get`` in a worker thread (the path of
  proxyflow-stream 0.3.0 and earlier);
* **sync**: ``StreamConsumer.iter_objects()`` over a ``queue.Queue``;
* **hand-written asyncio**: what a user writes without proxyflow: keys on an
  ``asyncio.Queue``, one ``await client.getdel(key)`` each on a
  ``redis.asyncio`` client.

The forms alternate within each repeat, so they share the load of the moment.
Prints objects per second (best of the repeats, and the slowest) and the
ratios of the bests; asserts nothing but that every object came back right.

    python -m proxyflow_bench.asyncio_consume [--sizes 1024,1048576] [--count N]
        [--repeat R] [--redis-url URL]

(``hatch run bench:asyncio-consume``; from ``benchmarks/``, or with it on ``PYTHONPATH``.)
"""

from __future__ import annotations

import asyncio
import queue
import time
import uuid
from typing import Any, ClassVar, NamedTuple

import redis.asyncio

from proxyflow.connectors.redis import RedisConnector
from proxyflow.shims.queue import (
    AsyncQueuePublisher,
    AsyncQueueSubscriber,
    QueuePublisher,
    QueueSubscriber,
)
from proxyflow.store import Store
from proxyflow.store.registry import unregister_store
from proxyflow.stream import (
    AsyncStreamConsumer,
    AsyncStreamProducer,
    StreamConsumer,
    StreamProducer,
)
from proxyflow_bench.redis_rates import cell, parse_args

FORMS = ("asyncio native", "asyncio thread", "sync", "hand-written asyncio")
TOPIC = "objects"


class ThreadReads(RedisConnector):
    """A Redis connector without ``get_async``: its store reads in a worker thread."""

    get_async: ClassVar[None] = None  # type: ignore[assignment]


class Row(NamedTuple):
    """Objects per second of each form, one value per repeat."""

    size: int
    rates: dict[str, list[float]]


def _check(objects: list[Any], payload: bytes, count: int) -> None:
    if len(objects) != count or any(obj != payload for obj in objects):
        raise AssertionError("the consumer did not read back every object")


def _store(connector_type: type[RedisConnector], redis_url: str) -> Store:
    name = f"bench-consume-{uuid.uuid4().hex[:8]}"
    return Store(name, connector_type(redis_url, prefix=f"{name}:"), cache_size=0)


def run_asyncio(store: Store, payload: bytes, count: int) -> float:
    """Send ``count`` objects, then read them with an asyncio consumer: obj/s of the reads."""

    async def body() -> float:
        q: asyncio.Queue[Any] = asyncio.Queue()
        producer = AsyncStreamProducer(AsyncQueuePublisher({TOPIC: q}), stores={TOPIC: store})
        for _ in range(count):
            await producer.send(TOPIC, payload, evict=True)
        await producer.close(topics=[TOPIC], stores=False)  # the store serves every repeat
        consumer = AsyncStreamConsumer(AsyncQueueSubscriber(q, topics=[TOPIC]), timeout=30)
        async with consumer:
            start = time.perf_counter()
            objects = [obj async for obj in consumer.iter_objects()]
            elapsed = time.perf_counter() - start
        _check(objects, payload, count)
        return count / elapsed

    return asyncio.run(body())


def run_sync(store: Store, payload: bytes, count: int) -> float:
    """Send ``count`` objects, then read them with a synchronous consumer: obj/s of the reads."""
    q: queue.Queue[Any] = queue.Queue()
    producer = StreamProducer(QueuePublisher({TOPIC: q}), stores={TOPIC: store})
    for _ in range(count):
        producer.send(TOPIC, payload, evict=True)
    producer.close(topics=[TOPIC], stores=False)  # the store serves every repeat
    with StreamConsumer(QueueSubscriber(q, topics=[TOPIC]), timeout=30) as consumer:
        start = time.perf_counter()
        objects = list(consumer.iter_objects())
        elapsed = time.perf_counter() - start
    _check(objects, payload, count)
    return count / elapsed


def run_hand_written(redis_url: str, payload: bytes, count: int) -> float:
    """Keys on an ``asyncio.Queue``, each value read with ``GETDEL``: obj/s of the reads."""

    async def body() -> float:
        prefix = f"bench-consume-raw-{uuid.uuid4().hex[:8]}:"
        client = redis.asyncio.Redis.from_url(redis_url)
        try:
            keys: asyncio.Queue[str | None] = asyncio.Queue()
            for i in range(count):
                await client.set(f"{prefix}{i}", payload)
                keys.put_nowait(f"{prefix}{i}")
            keys.put_nowait(None)
            objects = []
            start = time.perf_counter()
            while (key := await keys.get()) is not None:
                objects.append(await client.getdel(key))
            elapsed = time.perf_counter() - start
        finally:
            await client.aclose()
        _check(objects, payload, count)
        return count / elapsed

    return asyncio.run(body())


def measure(sizes: list[int], count: int, repeat: int, redis_url: str) -> list[Row]:
    """Run every form ``repeat`` times per size, alternating the forms."""
    rows: list[Row] = []
    for size in sizes:
        payload = b"x" * size
        native, threaded = _store(RedisConnector, redis_url), _store(ThreadReads, redis_url)
        try:
            rates: dict[str, list[float]] = {form: [] for form in FORMS}
            for _ in range(repeat):
                rates["asyncio native"].append(run_asyncio(native, payload, count))
                rates["asyncio thread"].append(run_asyncio(threaded, payload, count))
                rates["sync"].append(run_sync(native, payload, count))
                rates["hand-written asyncio"].append(run_hand_written(redis_url, payload, count))
        finally:
            for store in (native, threaded):
                store.close()
                unregister_store(store.name)
        rows.append(Row(size, rates))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the cases and print the table."""
    args = parse_args((__doc__ or "").split("\n")[0], argv)
    rows = measure(args.sizes, args.objects, args.repeat, args.redis_url)
    print(f"{args.objects} Redis-stored objects per form, obj/s best (slowest) of {args.repeat}")
    print(
        f"{'size':>9} "
        + " ".join(f"{form:>22}" for form in FORMS)
        + "  native/thread, native/sync, native/hand-written"
    )
    for row in rows:
        best = {form: max(values) for form, values in row.rates.items()}
        native = best["asyncio native"]
        print(
            f"{row.size:>9} "
            + " ".join(f"{cell(row.rates[form]):>22}" for form in FORMS)
            + f"  {native / best['asyncio thread']:.2f}, {native / best['sync']:.2f},"
            + f" {native / best['hand-written asyncio']:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
