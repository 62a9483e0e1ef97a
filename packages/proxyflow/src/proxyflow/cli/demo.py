"""The demo pipeline: generator, dispatcher and workers on one machine.

* **Generator** (a spawned process, [`proxyflow.cli.generator`][proxyflow.cli.generator]): puts
  ``count`` chunks in the store and publishes one small event per batch.
* **Dispatcher** (this process): consumes the stream and hands each proxy, still
  unresolved, to the workers with [`proxyflow.executors.dispatch`][proxyflow.executors.dispatch]:
  a pool of worker processes (``engine="process"``) or a Dask cluster (``engine="dask"``).
* **Workers** ([`proxyflow.cli.worker`][proxyflow.cli.worker]): resolve their proxy, which reads
  the chunk straight from the store, and compute on it.

Bulk bytes go from the generator to the store to a worker; the dispatcher only
sees events and proxies of a few hundred bytes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import pickle
import queue
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import Any

from proxyflow.cli.backends import check_reachable, make_subscriber
from proxyflow.cli.chunks import checksum, make_chunk
from proxyflow.cli.counting import CountingSubscriber
from proxyflow.cli.engines import EngineSpec, open_engine
from proxyflow.cli.exceptions import PipelineError
from proxyflow.cli.generator import GeneratorJob, run_generator
from proxyflow.cli.options import BrokerSpec, StoreSpec
from proxyflow.cli.report import DemoReport
from proxyflow.cli.worker import WorkResult, compute
from proxyflow.executors import DispatchResult, DispatchTimeoutError, dispatch
from proxyflow.proxy import is_resolved
from proxyflow.stream import StreamConsumer
from proxyflow.stream.exceptions import ConsumerTimeoutError

__all__ = ["DemoSettings", "run_demo"]

Callback = Callable[[], None]


@dataclass(frozen=True)
class DemoSettings:
    """The parameters of a demo run.

    Attributes:
        size: Bytes per chunk.
        count: Number of chunks.
        workers: Worker processes (in the pool, or of the local Dask cluster).
        batch_size: Objects per event.
        broker: Where events go (default: embedded ZeroMQ on loopback).
        store: Where chunks go (default: a temporary directory).
        timeout: Seconds to wait for any one step (a process start, an event,
            a result) before failing with [`PipelineError`][proxyflow.cli.exceptions.PipelineError].
        engine: Where the tasks run: a process pool (default) or Dask.
    """

    size: int = 1024 * 1024
    count: int = 32
    workers: int = 2
    batch_size: int = 1
    broker: BrokerSpec = field(default_factory=lambda: BrokerSpec("zmq"))
    store: StoreSpec = field(default_factory=lambda: StoreSpec("file"))
    timeout: float = 60.0
    engine: EngineSpec = field(default_factory=EngineSpec)


_POLL = 0.25
"""Seconds the dispatcher waits for one event before checking on the generator."""


class _GeneratorLink:
    """The main process's view of the generator: its process and status queue."""

    def __init__(self, process: BaseProcess, status: Any) -> None:
        self.process = process
        self.status = status
        self.received: dict[str, Any] = {}

    def _take(self, kind: str, value: Any) -> None:
        if kind == "error":
            raise PipelineError(f"the generator failed: {value}")
        self.received[kind] = value

    def check(self) -> None:
        """Raise if the generator reported an error or died; never blocks long."""
        with contextlib.suppress(queue.Empty):
            while True:
                self._take(*self.status.get_nowait())
        if not self.process.is_alive() and self.process.exitcode not in (0, None):
            with contextlib.suppress(queue.Empty):  # a report may still be in the pipe
                self._take(*self.status.get(timeout=1.0))
            raise PipelineError(f"the generator exited with code {self.process.exitcode}")

    def wait_for(self, kind: str, timeout: float) -> Any:
        """Return the value of the generator's ``kind`` report, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        while kind not in self.received:
            try:
                self._take(*self.status.get(timeout=_POLL))
            except queue.Empty:
                self.check()
                if time.monotonic() > deadline:
                    raise PipelineError(
                        f"the generator did not report {kind!r} within {timeout}s"
                    ) from None
        return self.received[kind]

    def stop(self) -> None:
        """Wait briefly for the process to exit, then terminate it."""
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)


class _WatchedStream:
    """The stream as the dispatcher reads it: waits for events while watching the generator.

    An [`ItemSource`][proxyflow.executors.ItemSource] that polls the consumer,
    checks on the generator between polls, and counts what it hands over.
    """

    def __init__(
        self,
        consumer: StreamConsumer,
        generator: _GeneratorLink,
        report: DemoReport,
        timeout: float,
        on_dispatch: Callback | None,
    ) -> None:
        self._read = consumer.next_with_metadata
        self._generator = generator
        self._report = report
        self._timeout = timeout
        self._on_dispatch = on_dispatch

    def next_with_metadata(self) -> tuple[dict[str, Any], Any]:
        """Return the next (metadata, proxy); raise `StopIteration` at the end of the stream."""
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                metadata, proxy = self._read()
                break
            except ConsumerTimeoutError:
                self._generator.check()
                if time.monotonic() > deadline:
                    raise PipelineError(f"no event arrived within {self._timeout}s") from None
        self._report.proxy_bytes += len(pickle.dumps(proxy, protocol=pickle.HIGHEST_PROTOCOL))
        self._report.dispatched += 1
        if self._on_dispatch is not None:
            self._on_dispatch()
        return metadata, proxy


def _check(results: list[DispatchResult[WorkResult]], report: DemoReport, size: int) -> None:
    """Compare every result with the chunk it should have computed on."""
    good: set[int] = set()
    for outcome in results:
        if is_resolved(outcome.item):
            report.resolved_by_dispatcher += 1
        if not outcome.ok or outcome.result is None:
            continue
        result = outcome.result
        report.worker_bytes += result.nbytes
        index = int(outcome.metadata["index"])
        expected = checksum(make_chunk(index, size))
        if result.arrived_unresolved and result.digest == expected:
            good.add(index)
    report.correct = len(good)
    report.wrong = sorted(set(range(report.count)) - good)


def run_demo(
    settings: DemoSettings,
    *,
    on_dispatch: Callback | None = None,
    on_result: Callback | None = None,
) -> DemoReport:
    """Run the pipeline once and return what it measured.

    Args:
        settings: Sizes, counts and backends.
        on_dispatch: Called after each proxy is handed to the dispatcher.
        on_result: Called when each worker result arrives.

    Returns:
        The measurements; ``report.ok`` tells whether every result was right.

    Raises:
        BackendUnreachableError: if a Redis broker or store does not answer.
        InvalidOptionError: if the store directory is unusable, or Dask is
            missing or its scheduler unreachable.
        PipelineError: if the generator or the stream fails or stalls.

    Example:
        ```python
        report = run_demo(DemoSettings(size=64 * 1024, count=8))
        assert report.ok
        ```
    """
    check_reachable(settings.broker, settings.store)
    report = DemoReport(
        broker=settings.broker.describe(),
        store=settings.store.describe(),
        count=settings.count,
        size=settings.size,
        workers=settings.workers,
        batch_size=settings.batch_size,
        engine=settings.engine.describe(settings.workers),
    )
    ctx = multiprocessing.get_context("spawn")
    timeout = settings.timeout
    with contextlib.ExitStack() as stack:
        directory = ""
        if settings.store.kind == "file" and not settings.store.location:
            directory = tempfile.mkdtemp(prefix="proxyflow-demo-")
            stack.callback(shutil.rmtree, directory, ignore_errors=True)
        topic = f"proxyflow-demo-{uuid.uuid4().hex[:12]}"
        subscriber = None
        if settings.broker.kind != "zmq":  # subscribe before anything is published
            subscriber = make_subscriber(settings.broker, topic, "")
            stack.callback(subscriber.close)
        status = ctx.Queue()
        go = ctx.Event()
        job = GeneratorJob(
            broker=settings.broker,
            store=settings.store,
            directory=directory,
            topic=topic,
            count=settings.count,
            size=settings.size,
            batch_size=settings.batch_size,
            timeout=timeout,
        )
        process = ctx.Process(
            target=run_generator, args=(job, status, go), name="proxyflow-demo-generator"
        )
        process.start()
        generator = _GeneratorLink(process, status)
        stack.callback(generator.stop)
        executor = stack.enter_context(open_engine(settings.engine, settings.workers, timeout))

        address = generator.wait_for("ready", timeout)
        if subscriber is None:
            subscriber = make_subscriber(settings.broker, topic, str(address))
        counting = CountingSubscriber(subscriber)
        # The dispatcher follows events only to the store this demo configured.
        store_location = settings.store.location or directory
        trusted = [store_location if settings.store.kind == "redis" else f"file:{store_location}"]
        consumer = StreamConsumer(counting, timeout=_POLL, trusted_locations=trusted)
        stack.callback(consumer.close)

        source = _WatchedStream(consumer, generator, report, timeout, on_dispatch)
        go.set()
        start = time.perf_counter()
        results: list[DispatchResult[WorkResult]] = []
        try:
            for outcome in dispatch(
                source, compute, executor, max_in_flight=4 * settings.workers, timeout=timeout
            ):
                results.append(outcome)
                if on_result is not None:
                    on_result()
        except DispatchTimeoutError:
            raise PipelineError(f"the workers did not finish within {timeout}s") from None
        report.wall_time = time.perf_counter() - start
        report.event_bytes = counting.nbytes
        report.bytes_produced = int(generator.wait_for("done", timeout))
        _check(results, report, settings.size)
    return report
