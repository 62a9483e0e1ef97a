"""Prefetch in the asyncio consumer: ``iter_objects()`` of 1 MiB objects from a file store.

For each shim (the queue shim by default; ZeroMQ and Redis lists as in
``asyncio_stream``), ``N`` objects of 1 MiB are written to a file store in
a temporary directory and their events queued, the topic is ended, and then
a consumer alone reads every object with ``iter_objects()`` (reading and
evicting each file), timed from its first call to the last object (the end
of the stream, which a work-sharing consumer notices after one idle roster
poll of 50 ms, is awaited untimed):

* **async p0**: ``AsyncStreamConsumer(prefetch=0)``, each object read in a
  worker thread when asked for;
* **async pK**: ``AsyncStreamConsumer(prefetch=K)``, objects read ahead by
  an asyncio task;
* **sync pK**: ``StreamConsumer(prefetch=K)``, objects read ahead by a thread.

With ``--digests D``, the loop body also works on each object: ``D``
SHA-256 digests of its bytes (about 0.5 ms each on the machine of the
documented runs; ``hashlib`` lets other threads run meanwhile), in the
caller's thread (the event loop's, for the asyncio consumer), which prefetch
can overlap with the reads. (Waiting in ``asyncio.sleep`` instead is no
model: asyncio's timers wake up to a millisecond late, a slack that hides a
read of 1 MiB.) The cases alternate within each repeat, so they share the load of
the moment. Prints objects and MiB per second (best of the repeats, and the
slowest), and the ratios of the bests; asserts nothing.

    python -m proxyflow_bench.asyncio_prefetch [--shims queue,zmq,redis] [--count N]
        [--prefetch K] [--digests 0,2] [--repeat R] [--redis-url URL]

(``hatch run bench:asyncio-prefetch``; from ``benchmarks/``, or with it on ``PYTHONPATH``.)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from proxyflow.stream import (
    AsyncStreamConsumer,
    AsyncStreamProducer,
    StreamConsumer,
    StreamProducer,
)
from proxyflow_bench.asyncio_stream import SHIMS, TOPIC, async_pair, new_store, sync_pair

PAYLOAD = b"x" * (1 << 20)
MIB = len(PAYLOAD) / (1 << 20)
MAX_COUNT = 999
"""The benchmark's queues hold 1000 messages: the objects and the end of the topic."""


class Case(NamedTuple):
    """What one run reads: the shim, the objects, the prefetch and the digests per object."""

    shim: str
    objects: int
    prefetch: int
    digests: int
    redis_url: str
    directory: Path


def work(obj: bytes, digests: int) -> None:
    """The loop body's work on an object: ``digests`` SHA-256 digests of it."""
    for _ in range(digests):
        hashlib.sha256(obj).digest()


def sync_consumer(case: Case) -> float:
    """Queue the objects, then read them with ``StreamConsumer``: objects per second."""
    with sync_pair(case.shim, case.redis_url) as pair:
        producer = StreamProducer(pair.publisher, default_store=new_store("file", case.directory))
        for _ in range(case.objects):
            producer.send(TOPIC, PAYLOAD)
        producer.close(topics=[TOPIC])
        consumer: StreamConsumer[bytes] = StreamConsumer(
            pair.subscriber, timeout=30, prefetch=case.prefetch
        )
        received, elapsed = 0, 0.0
        start = time.perf_counter()
        for obj in consumer.iter_objects():
            received += len(obj) == len(PAYLOAD)
            work(obj, case.digests)
            if received == case.objects:
                elapsed = time.perf_counter() - start
        consumer.close()
    if received != case.objects:
        raise RuntimeError(f"sync {case}: received {received} of {case.objects}")
    return case.objects / elapsed


async def async_consumer(case: Case) -> float:
    """Queue the objects, then read them with ``AsyncStreamConsumer``: objects per second."""
    async with async_pair(case.shim, case.redis_url) as pair:
        producer = AsyncStreamProducer(
            pair.publisher, default_store=new_store("file", case.directory)
        )
        for _ in range(case.objects):
            await producer.send(TOPIC, PAYLOAD)
        await producer.close(topics=[TOPIC])
        consumer: AsyncStreamConsumer[bytes] = AsyncStreamConsumer(
            pair.subscriber, timeout=30, prefetch=case.prefetch
        )
        received, elapsed = 0, 0.0
        start = time.perf_counter()
        async for obj in consumer.iter_objects():
            received += len(obj) == len(PAYLOAD)
            work(obj, case.digests)
            if received == case.objects:
                elapsed = time.perf_counter() - start
        await consumer.close()
    if received != case.objects:
        raise RuntimeError(f"asyncio {case}: received {received} of {case.objects}")
    return case.objects / elapsed


def run_async(case: Case) -> float:
    """`async_consumer` on a fresh event loop."""
    return asyncio.run(async_consumer(case))


class Row(NamedTuple):
    """One line of the table: objects per second of each form, every repeat."""

    shim: str
    digests: int
    async_p0: list[float]
    async_pk: list[float]
    sync_pk: list[float]


def measure(
    shims: list[str], works: list[int], count: int, prefetch: int, repeat: int, redis_url: str
) -> list[Row]:
    """Measure every shim and amount of work in the three forms, alternating within each repeat."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="proxyflow-bench-") as tmp:
        directory = Path(tmp)
        for shim in shims:
            for digests in works:
                forms: list[tuple[Callable[[Case], float], int]] = [
                    (run_async, 0),
                    (run_async, prefetch),
                    (sync_consumer, prefetch),
                ]
                runs: list[list[float]] = [[], [], []]
                for _ in range(repeat):
                    for i, (run, k) in enumerate(forms):
                        case = Case(shim, count, k, digests, redis_url, directory)
                        runs[i].append(run(case))
                rows.append(Row(SHIMS[shim], digests, *runs))
    return rows


def cell(runs: list[float]) -> str:
    """``best (slowest)`` objects per second."""
    return f"{max(runs):7.0f} ({min(runs):5.0f})"


def main(argv: list[str] | None = None) -> int:
    """Run the cases and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--shims", default="queue", help="comma-separated: queue,zmq,redis")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--prefetch", type=int, default=8)
    parser.add_argument("--digests", default="0,2", help="comma-separated SHA-256 passes")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--redis-url", default="redis://localhost:6379/0")
    args = parser.parse_args(argv)
    shims = args.shims.split(",")
    if sorted(set(shims) - set(SHIMS)):
        parser.error(f"unknown shims {shims}; choose from {sorted(SHIMS)}")
    if not 0 < args.count <= MAX_COUNT or args.prefetch < 1:
        parser.error(f"--count must be 1 to {MAX_COUNT} and --prefetch at least 1")
    works = [int(w) for w in args.digests.split(",")]
    rows = measure(shims, works, args.count, args.prefetch, args.repeat, args.redis_url)
    k = args.prefetch
    print(
        f"{args.count} objects of {MIB:g} MiB from a file store, obj/s best (slowest) "
        f"of {args.repeat}"
    )
    print(
        f"{'':24} {'digests':>7} {'async p0':>15} {f'async p{k}':>15} {f'sync p{k}':>15} "
        f"{f'p{k}/p0':>7} {f'async/sync p{k}':>15} {f'MiB/s async p{k}':>16}"
    )
    for row in rows:
        gain = max(row.async_pk) / max(row.async_p0)
        parity = max(row.async_pk) / max(row.sync_pk)
        print(
            f"{row.shim:24} {row.digests:7d} {cell(row.async_p0):>15} {cell(row.async_pk):>15} "
            f"{cell(row.sync_pk):>15} {gain:7.2f} {parity:15.2f} {max(row.async_pk) * MIB:16.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
