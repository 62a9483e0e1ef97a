"""The compute engines of the demo: a process pool (default) or a Dask cluster.

Dask is imported only for ``--engine dask``.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from proxyflow.cli.exceptions import InvalidOptionError, PipelineError
from proxyflow.cli.worker import warm_up

__all__ = ["ENGINES", "EngineSpec", "open_engine"]

ENGINES = ("process", "dask")
"""The engines ``--engine`` accepts."""


@dataclass(frozen=True)
class EngineSpec:
    """Where the demo's tasks run.

    Attributes:
        kind: ``"process"`` (a pool of spawned processes) or ``"dask"``.
        scheduler: For Dask, the address of an existing scheduler
            (``tcp://host:port``); empty for a local cluster of ``workers`` processes.
    """

    kind: str = "process"
    scheduler: str = ""

    def describe(self, workers: int) -> str:
        """A one-line description for the report."""
        if self.kind == "process":
            return f"process pool, {workers} workers"
        if self.scheduler:
            return f"Dask scheduler {self.scheduler}"
        return f"Dask local cluster, {workers} worker processes"


def parse_engine(kind: str, scheduler: str = "") -> EngineSpec:
    """Check ``--engine`` and ``--scheduler``.

    Raises:
        InvalidOptionError: For an unknown engine, or a scheduler without ``--engine dask``.
    """
    if kind not in ENGINES:
        raise InvalidOptionError(f"unknown engine {kind!r}: use one of {ENGINES}", "--engine")
    if scheduler and kind != "dask":
        raise InvalidOptionError("--scheduler needs --engine dask", "--scheduler")
    if scheduler and not scheduler.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
        raise InvalidOptionError(
            f"a scheduler address looks like tcp://host:port, got {scheduler!r}", "--scheduler"
        )
    return EngineSpec(kind, scheduler)


@contextlib.contextmanager
def open_engine(spec: EngineSpec, workers: int, timeout: float) -> Iterator[Any]:
    """Start (or connect to) the engine, wait for its workers, and yield the executor.

    Raises:
        InvalidOptionError: If Dask is not installed.
        PipelineError: If the workers do not start within ``timeout``.
    """
    if spec.kind == "process":
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            warm = [pool.submit(warm_up) for _ in range(workers)]
            if wait(warm, timeout=timeout).not_done:
                raise PipelineError(f"the worker processes did not start within {timeout}s")
            yield pool
            pool.shutdown(wait=True, cancel_futures=True)
        return
    try:
        distributed: Any = importlib.import_module("distributed")
    except ImportError:
        raise InvalidOptionError(
            "--engine dask needs Dask: pip install 'proxyflow-executors[dask]'", "--engine"
        ) from None
    with contextlib.ExitStack() as stack:
        if spec.scheduler:
            try:
                client = stack.enter_context(distributed.Client(spec.scheduler, timeout=timeout))
            except OSError as exc:
                raise InvalidOptionError(
                    f"cannot reach the Dask scheduler {spec.scheduler}: {exc}", "--scheduler"
                ) from None
        else:
            cluster = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                )
            )
            client = stack.enter_context(distributed.Client(cluster, timeout=timeout))
            try:
                client.wait_for_workers(workers, timeout=timeout)
            except TimeoutError:
                raise PipelineError(f"the Dask workers did not start within {timeout}s") from None
        yield client
