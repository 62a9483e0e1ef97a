"""Adapters from an engine's futures to what the dispatcher needs.

A ``concurrent.futures.Executor`` returns ``concurrent.futures.Future``
objects; a Dask ``distributed.Client`` returns distributed futures, which have
the same method names but differ in threading and in releasing cluster
memory. [`engine_for`][proxyflow.executors.engines.engine_for] picks the
adapter; Dask is never imported unless the executor is a Dask client (it is
recognised only when ``distributed`` is already imported, which it must be
for such a client to exist).
"""

from __future__ import annotations

import concurrent.futures
import sys
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from proxyflow.executors.exceptions import UnsupportedExecutorError
from proxyflow.executors.tasks import ProxyTask

__all__ = ["DaskEngine", "Engine", "FuturesEngine", "Outcome", "engine_for", "is_dask_client"]


class Outcome(NamedTuple):
    """How a finished task ended."""

    result: Any
    exception: BaseException | None
    cancelled: bool


class Engine(Protocol):
    """Submits argument-free tasks and reports on their futures.

    ``add_done_callback`` may run its callback in any thread (at once when the
    task has already finished); ``outcome`` is called only after that.
    """

    def submit(self, task: ProxyTask[Any]) -> Any:
        """Submit ``task`` and return its future."""
        ...

    def add_done_callback(self, future: Any, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once ``future`` has finished, failed or been cancelled."""
        ...

    def outcome(self, future: Any) -> Outcome:
        """Return how a finished ``future`` ended (fetching its result)."""
        ...

    def cancel(self, future: Any) -> None:
        """Cancel ``future`` if it has not started; a running task may finish anyway."""
        ...

    def release(self, future: Any) -> None:
        """Let the engine forget ``future`` and free what it holds for it."""
        ...


def _outcome(future: Any) -> Outcome:
    if future.cancelled():
        return Outcome(None, concurrent.futures.CancelledError("the task was cancelled"), True)
    try:
        return Outcome(future.result(), None, False)
    except Exception as exc:
        return Outcome(None, exc, False)


class FuturesEngine:
    """Adapter for any ``concurrent.futures.Executor`` (process or thread pool, ...).

    Args:
        executor: The executor; tasks are submitted as ``executor.submit(task)``.
    """

    def __init__(self, executor: concurrent.futures.Executor) -> None:
        self.executor = executor

    def submit(self, task: ProxyTask[Any]) -> Any:
        """Submit ``task`` with no arguments."""
        return self.executor.submit(task)

    def add_done_callback(self, future: Any, callback: Callable[[], None]) -> None:
        """Register ``callback`` on the future."""
        future.add_done_callback(lambda _future: callback())

    def outcome(self, future: Any) -> Outcome:
        """Return how the future ended."""
        return _outcome(future)

    def cancel(self, future: Any) -> None:
        """Cancel the future if it is still queued."""
        future.cancel()

    def release(self, future: Any) -> None:
        """Nothing to release: the future holds its result only while referenced."""


class DaskEngine:
    """Adapter for a Dask ``distributed.Client``.

    Tasks are submitted with a unique key and ``pure=False`` (nothing is
    tokenized) and no arguments, so neither the client nor the scheduler
    looks at the proxy inside the task. Each future is released once its
    outcome is read, so the cluster frees the result.

    Args:
        client: A connected ``distributed.Client``.
    """

    def __init__(self, client: Any) -> None:
        self.client = client

    def submit(self, task: ProxyTask[Any]) -> Any:
        """Submit ``task`` under the key ``proxyflow-<fn name>-<uuid>``."""
        key = f"proxyflow-{task.name}-{uuid.uuid4().hex}"
        return self.client.submit(task, key=key, pure=False)

    def add_done_callback(self, future: Any, callback: Callable[[], None]) -> None:
        """Register ``callback``; Dask runs it in a thread of its own."""
        future.add_done_callback(lambda _future: callback())

    def outcome(self, future: Any) -> Outcome:
        """Return how the future ended (fetching a result from the cluster)."""
        return _outcome(future)

    def cancel(self, future: Any) -> None:
        """Ask the scheduler to cancel the task."""
        future.cancel()

    def release(self, future: Any) -> None:
        """Release the future's key on the cluster."""
        future.release()


def is_dask_client(executor: object) -> bool:
    """Return whether ``executor`` is a Dask ``distributed.Client`` (imports nothing).

    Args:
        executor: Any object.
    """
    distributed = sys.modules.get("distributed")
    client_class = getattr(distributed, "Client", None)
    return isinstance(client_class, type) and isinstance(executor, client_class)


def engine_for(executor: object) -> Engine:
    """Return the adapter for ``executor``.

    Args:
        executor: A ``concurrent.futures.Executor`` or a Dask ``distributed.Client``.

    Raises:
        UnsupportedExecutorError: For anything else.
    """
    if is_dask_client(executor):
        return DaskEngine(executor)
    if isinstance(executor, concurrent.futures.Executor):
        return FuturesEngine(executor)
    raise UnsupportedExecutorError(
        f"cannot dispatch to {type(executor).__name__}: pass a concurrent.futures.Executor "
        "(ProcessPoolExecutor, ThreadPoolExecutor, ...) or a Dask distributed.Client"
    )
