"""What a Dask user does instead: ``client.submit(fn, array)``, ``scatter`` then submit,
or proxyflow proxies dispatched with ``proxyflow.executors.dispatch``.

``python -m proxyflow_bench.dask`` (``hatch run bench:dask``). One local Dask cluster
(2 worker processes, 1 thread each) runs in a process of its own, so the scheduler's
traffic is its own. Each case runs its dispatching process fresh (``spawn``), which
makes its peak memory its own. Every case runs ``count`` tasks of one NumPy array each,
at most ``window`` in flight, and each task sums its array in a worker:

* ``submit``: the dispatching process makes each array and passes it to ``client.submit``;
* ``scatter``: it makes each array, ``client.scatter``s it, then submits with the future;
* ``proxyflow-file`` / ``proxyflow-redis``: a producer process puts each array in a file
  store (``/dev/shm`` when present) or a Redis store and streams an event (queue shim);
  the dispatching process reads the stream and dispatches each proxy, unresolved.

Measured per case:

* **throughput**: tasks per second from the first array made to the last result;
* **bytes through the client and the scheduler per task**: the frames Dask's TCP comm
  serializes and deserializes, counted by wrapping ``distributed.comm.tcp.to_frames``
  (bytes a process sends) and ``from_frames`` (bytes it receives) in the dispatching
  process and in the scheduler's process: the client's bytes sent and the scheduler's
  bytes received over the case, divided by the tasks;
* **peak memory of the dispatching process**: its RSS high-water mark (``VmHWM``).

Ratios are printed; nothing is asserted about speed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import multiprocessing as mp
import os
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from proxyflow_bench.environment import BenchResources, machine_info
from proxyflow_bench.spec import MiB, format_size, parse_sizes

__all__ = ["CASES", "CaseResult", "main", "run"]

CASES = ("submit", "scatter", "proxyflow-file", "proxyflow-redis")
SPAWN = mp.get_context("spawn")
TIMEOUT = 300.0


@dataclass(frozen=True)
class CaseResult:
    """One case at one size."""

    case: str
    size: int
    count: int
    seconds: float
    client_bytes_per_task: float
    scheduler_bytes_per_task: float
    peak_rss: int

    @property
    def tasks_per_second(self) -> float:
        """Tasks completed per second."""
        return self.count / max(self.seconds, 1e-9)


_COUNTS = {"sent": 0, "received": 0}
"""Bytes of the frames this process's Dask comms sent and received (see `_count_comm_bytes`)."""


def _count_comm_bytes() -> None:
    """Wrap the TCP comm's (de)serialization so that every frame's bytes are counted."""
    tcp: Any = importlib.import_module("distributed.comm.tcp")
    to_frames, from_frames = tcp.to_frames, tcp.from_frames

    async def counting_to_frames(*args: Any, **kwargs: Any) -> Any:
        frames = await to_frames(*args, **kwargs)
        _COUNTS["sent"] += sum(memoryview(f).nbytes for f in frames)
        return frames

    async def counting_from_frames(frames: Any, *args: Any, **kwargs: Any) -> Any:
        _COUNTS["received"] += sum(memoryview(f).nbytes for f in frames)
        return await from_frames(frames, *args, **kwargs)

    tcp.to_frames, tcp.from_frames = counting_to_frames, counting_from_frames


def _peak_rss() -> int:
    """This process's own RSS high-water mark in bytes (``VmHWM``; ``ru_maxrss`` elsewhere)."""
    try:
        with open("/proc/self/status") as lines:
            for line in lines:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _array(size: int, i: int) -> Any:
    import numpy as np

    return np.full(size // 8, float(i))


def consume(x: Any) -> float:
    """The task: sum an array (resolving a proxy first)."""
    import numpy as np

    from proxyflow.proxy import Proxy, extract

    array = extract(x) if type(x) is Proxy else x
    return float(np.asarray(array).sum())


# -- the cluster, in a process of its own ----------------------------------------------------


def _warm_worker() -> None:
    """Import on a worker what the tasks need, so that no case pays for it."""
    for module in ("numpy", "proxyflow.store", "proxyflow.connectors.file", "proxyflow.executors"):
        importlib.import_module(module)
    with contextlib.suppress(ImportError):
        importlib.import_module("proxyflow.connectors.redis")


def _host_cluster(workers: int, conn: Any) -> None:
    """Run the scheduler (in this process) and its worker processes; answer byte counts."""
    try:
        distributed: Any = importlib.import_module("distributed")
        _count_comm_bytes()
        with (
            distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            client.run(_warm_worker)
            conn.send(("ready", cluster.scheduler_address))
            while conn.recv() == "counts":
                conn.send(("counts", dict(_COUNTS)))
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))


# -- the producer of the proxyflow cases --------------------------------------------------------


def _store(kind: str, env: dict[str, Any]) -> Any:
    from proxyflow.store import Store

    if kind == "file":
        from proxyflow.connectors.file import FileConnector

        return Store(f"bench-dask-{env['tag']}", FileConnector(env["file_dir"]))
    from proxyflow.connectors.redis import RedisConnector

    connector = RedisConnector(env["redis_url"], prefix=f"{env['prefix']}:dask:")
    return Store(f"bench-dask-{env['tag']}", connector)


def _produce(kind: str, env: dict[str, Any], channel: Any, ready: Any, go: Any) -> None:
    from proxyflow.shims.queue import QueuePublisher
    from proxyflow.stream import StreamProducer

    store = _store(kind, env)
    producer = StreamProducer(QueuePublisher({"arrays": channel}), default_store=store)
    _array(8, 0)  # numpy imported
    ready.set()
    if not go.wait(TIMEOUT):
        return
    for i in range(env["count"]):
        producer.send("arrays", _array(env["size"], i), evict=True, metadata={"i": i})
    producer.close(topics=["arrays"])


# -- the dispatching process of every case -----------------------------------------------------


def _bounded(client: Any, submit_one: Callable[[int], Any], count: int, window: int) -> float:
    """Submit ``count`` tasks, at most ``window`` in flight; return the sum of the results."""
    distributed: Any = importlib.import_module("distributed")
    pending: set[Any] = set()
    total = 0.0
    for i in range(count):
        if len(pending) >= window:
            done, pending = distributed.wait(pending, return_when="FIRST_COMPLETED")
            for future in done:
                total += future.result()
                future.release()
        pending.add(submit_one(i))
    for future in distributed.as_completed(pending):
        total += future.result()
        future.release()
    return total


def _dispatching(case: str, address: str, env: dict[str, Any], conn: Any) -> None:
    try:
        distributed: Any = importlib.import_module("distributed")
        _count_comm_bytes()
        client = distributed.Client(address, timeout=60)
        size, count, window = env["size"], env["count"], env["window"]
        producer = None
        ready, go = SPAWN.Event(), SPAWN.Event()
        if case.startswith("proxyflow"):
            from proxyflow.executors import dispatch
            from proxyflow.shims.queue import QueueSubscriber
            from proxyflow.stream import TRUST_ALL, StreamConsumer

            channel = SPAWN.Queue()
            kind = case.split("-", 1)[1]
            producer = SPAWN.Process(target=_produce, args=(kind, env, channel, ready, go))
            producer.start()
            consumer = StreamConsumer(
                QueueSubscriber(channel, topics=["arrays"]),
                timeout=60,
                trusted_locations=[TRUST_ALL],  # the run's own producer, on a private queue
            )
            if not ready.wait(TIMEOUT):
                raise TimeoutError("the producer did not start")
        _array(8, 0)  # numpy imported
        conn.send(("ready", None))
        conn.recv()  # go
        sent_before = _COUNTS["sent"]
        start = time.perf_counter()
        if case == "submit":
            total = _bounded(
                client, lambda i: client.submit(consume, _array(size, i)), count, window
            )
        elif case == "scatter":

            def scatter_then_submit(i: int) -> Any:
                return client.submit(consume, client.scatter(_array(size, i)))

            total = _bounded(client, scatter_then_submit, count, window)
        else:
            go.set()
            with consumer:
                results = dispatch(consumer, consume, client, max_in_flight=window, timeout=120)
                total = sum(r.get() for r in results)
        seconds = time.perf_counter() - start
        sent = _COUNTS["sent"] - sent_before
        expected = sum(float(i) * (size // 8) for i in range(count))
        if total != expected:
            raise AssertionError(f"wrong results: {total} != {expected}")
        conn.send(("done", (seconds, sent, _peak_rss())))
        if producer is not None:
            producer.join(60)
        client.close()
    except BaseException:
        conn.send(("error", traceback.format_exc()))


def _wait(conn: Any, kind: str, timeout: float = TIMEOUT) -> Any:
    if not conn.poll(timeout):
        raise TimeoutError(f"no {kind!r} within {timeout}s")
    got, value = conn.recv()
    if got == "error":
        raise RuntimeError(f"a benchmark process failed:\n{value}")
    return value


def _scheduler_received(host: Any) -> int:
    host.send("counts")
    counts: dict[str, int] = _wait(host, "counts")
    return counts["received"]


def _run_case(case: str, address: str, host: Any, env: dict[str, Any]) -> CaseResult:
    parent, child = SPAWN.Pipe()
    process = SPAWN.Process(target=_dispatching, args=(case, address, env, child))
    process.start()
    try:
        _wait(parent, "ready")
        before = _scheduler_received(host)
        parent.send("go")
        seconds, client_bytes, peak = _wait(parent, "done")
        after = _scheduler_received(host)
    finally:
        process.join(60)
        if process.is_alive():
            process.terminate()
    count = env["count"]
    return CaseResult(
        case=case,
        size=env["size"],
        count=count,
        seconds=seconds,
        client_bytes_per_task=client_bytes / count,
        scheduler_bytes_per_task=(after - before) / count,
        peak_rss=peak,
    )


def run(
    sizes: tuple[int, ...],
    cases: tuple[str, ...] = CASES,
    *,
    quick: bool = False,
    workers: int = 2,
    window: int = 4,
    progress: Callable[[str], None] = print,
) -> list[CaseResult]:
    """Run every case at every size against one local cluster and return the results."""
    resources = BenchResources(need_redis="proxyflow-redis" in cases)
    parent, child = SPAWN.Pipe()
    host = SPAWN.Process(target=_host_cluster, args=(workers, child))
    host.start()
    results: list[CaseResult] = []
    try:
        address = _wait(parent, "ready")
        for size in sizes:
            count = max(8, min(64, (256 * MiB) // size)) if not quick else 4
            for case in cases:
                env = {
                    "size": size,
                    "count": count,
                    "window": window,
                    "file_dir": os.path.join(resources.file_root, uuid.uuid4().hex[:8]),
                    "redis_url": resources.redis_url,
                    "prefix": resources.prefix,
                    "tag": uuid.uuid4().hex[:8],
                }
                result = _run_case(case, address, parent, env)
                progress(
                    f"{format_size(size):>7} {case:<16} {result.tasks_per_second:8.1f} tasks/s"
                )
                results.append(result)
    finally:
        parent.send("stop")
        host.join(60)
        if host.is_alive():
            host.terminate()
        resources.close()
    return results


def markdown(results: list[CaseResult]) -> str:
    """The results as a Markdown table, with ratios to ``submit`` at the same size."""
    lines = [
        "| size | case | tasks/s | vs submit | MiB/s | client out per task "
        "| scheduler in per task | dispatcher peak RSS |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    base = {r.size: r.tasks_per_second for r in results if r.case == "submit"}
    for r in results:
        ratio = r.tasks_per_second / base[r.size] if r.size in base else float("nan")
        lines.append(
            f"| {format_size(r.size)} | {r.case} | {r.tasks_per_second:.1f} | {ratio:.2f}x "
            f"| {r.tasks_per_second * r.size / MiB:.0f} "
            f"| {_bytes(r.client_bytes_per_task)} | {_bytes(r.scheduler_bytes_per_task)} "
            f"| {r.peak_rss / MiB:.0f} MiB |"
        )
    return "\n".join(lines)


def _bytes(n: float) -> str:
    if n >= MiB:
        return f"{n / MiB:.1f} MiB"
    if n >= 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n:.0f} B"


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print the table; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m proxyflow_bench.dask", description=__doc__)
    parser.add_argument("--sizes", default="1MiB,64MiB", help="array sizes (binary units)")
    parser.add_argument("--cases", default=",".join(CASES), help=f"cases among {CASES}")
    parser.add_argument("--quick", action="store_true", help="4 tasks per case (smoke run)")
    parser.add_argument("--window", type=int, default=4, help="tasks in flight (default 4)")
    parser.add_argument("--json", type=Path, help="write the results as JSON")
    parser.add_argument("--markdown", type=Path, help="write the table as Markdown")
    args = parser.parse_args(argv)
    cases = tuple(c for c in args.cases.split(",") if c)
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}; choose among {CASES}")
    try:
        importlib.import_module("distributed")
    except ImportError:
        print("the Dask benchmark needs dask[distributed] (hatch run bench:dask)", file=sys.stderr)
        return 2
    results = run(parse_sizes(args.sizes), cases, quick=args.quick, window=args.window)
    table = markdown(results)
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n")
    if args.json:
        document = {
            "machine": machine_info(),
            "results": [asdict(r) | {"tasks_per_second": r.tasks_per_second} for r in results],
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
