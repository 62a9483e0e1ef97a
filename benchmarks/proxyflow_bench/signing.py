"""The cost of signed events: signed against unsigned streaming of the same objects, one run.

For each case a producer sends ``N`` objects through a ``queue.Queue`` (the
queue shim) and a consumer reads them back with ``next_object`` in the same
thread, once without a key and once with ``signing_key`` on both sides
(a MAC over every message, a digest of every stored object's bytes checked
before it is deserialized). Cases: 1 KiB ``bytes`` inline, 1 KiB and 16 MiB
``bytes`` in a ``local`` store (memory: the store costs least, so the
signing share is the largest) and in a ``file`` store (``/dev/shm`` when it
exists). Everything runs in one thread, so the CPU time of the process
(``time.process_time``) is the work done, which a machine shared with other
jobs inflates less than wall time. Prints the median CPU time per object of
each form over ``--repeat`` runs, the spread (min-max), and signed/unsigned;
asserts nothing.

    python -m proxyflow_bench.signing [--repeat R] [--quick]

(``hatch run bench:signing``; from ``benchmarks/``, or with it on ``PYTHONPATH``.)
"""

from __future__ import annotations

import argparse
import os
import platform
import queue
import statistics
import tempfile
import time
from collections.abc import Sequence
from typing import NamedTuple

from proxyflow.connectors.file import FileConnector
from proxyflow.connectors.local import LocalConnector
from proxyflow.shims.queue import QueuePublisher, QueueSubscriber
from proxyflow.store import Store
from proxyflow.stream import StreamConsumer, StreamProducer

KEY = "benchmark-signing-key-0123456789abcdef"
KIB = 1024
MIB = 1024 * KIB


class Case(NamedTuple):
    """One benchmark case: what is sent, where it is stored, how many."""

    name: str
    size: int
    store: str  # "inline", "local" or "file"
    objects: int


class Row(NamedTuple):
    """The measurements of one case: seconds per object of each form, over the repeats."""

    case: Case
    unsigned: list[float]
    signed: list[float]

    @property
    def ratio(self) -> float:
        """Median signed time over median unsigned time."""
        return statistics.median(self.signed) / statistics.median(self.unsigned)


def cases(quick: bool) -> list[Case]:
    """The cases, with fewer objects when ``quick``."""
    small, large = (500, 2) if quick else (5000, 20)
    return [
        Case("1 KiB inline", KIB, "inline", small),
        Case("1 KiB local", KIB, "local", small),
        Case("1 KiB file", KIB, "file", small),
        Case("16 MiB local", 16 * MIB, "local", large),
        Case("16 MiB file", 16 * MIB, "file", large),
    ]


def _store(kind: str, directory: str) -> Store | None:
    if kind == "inline":
        return None
    if kind == "local":
        return Store("bench-signing", LocalConnector())
    return Store("bench-signing", FileConnector(directory))


def run_once(case: Case, *, signed: bool, directory: str) -> float:
    """Stream the case's objects once; return CPU seconds per object (send and read)."""
    payload = os.urandom(case.size)
    key = KEY if signed else None
    q: queue.Queue[bytes] = queue.Queue()
    store = _store(case.store, directory)
    producer = StreamProducer(QueuePublisher({"t": q}), default_store=store, signing_key=key)
    consumer = StreamConsumer(
        QueueSubscriber(q, topics=["t"]), timeout=10, signing_key=key, trusted_locations=["*"]
    )
    start = time.process_time()
    for _ in range(case.objects):
        producer.send("t", payload)
        consumer.next_object()
    elapsed = time.process_time() - start
    producer.close(topics=["t"])
    consumer.close()
    return elapsed / case.objects


def measure(selected: Sequence[Case], repeat: int) -> list[Row]:
    """Measure every case, alternating unsigned and signed runs."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    rows = []
    with tempfile.TemporaryDirectory(dir=base) as directory:
        for case in selected:
            unsigned: list[float] = []
            signed: list[float] = []
            for _ in range(repeat):
                unsigned.append(run_once(case, signed=False, directory=directory))
                signed.append(run_once(case, signed=True, directory=directory))
            rows.append(Row(case, unsigned, signed))
    return rows


def _time(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def _spread(values: list[float]) -> str:
    return f"{_time(min(values))}-{_time(max(values))}"


def table(rows: Sequence[Row]) -> str:
    """A markdown table of the rows."""
    lines = [
        "| case | unsigned, CPU per object | signed, CPU per object | signed / unsigned |",
        "|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.case.name} (x{row.case.objects}) "
            f"| {_time(statistics.median(row.unsigned))} ({_spread(row.unsigned)}) "
            f"| {_time(statistics.median(row.signed))} ({_spread(row.signed)}) "
            f"| {row.ratio:.2f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each form per case")
    parser.add_argument("--quick", action="store_true", help="fewer objects per run")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    rows = measure(cases(args.quick), args.repeat)
    print(
        f"# {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs; median of {args.repeat} runs "
        "(min-max in brackets)"
    )
    print(table(rows))


if __name__ == "__main__":
    main()
