"""Dispatch a stream's items to compute engines, by reference.

[`dispatch`][proxyflow.executors.dispatcher.dispatch] reads a stream (a
[`StreamConsumer`][proxyflow.stream.StreamConsumer]), submits one task per
item to any ``concurrent.futures.Executor`` or a Dask ``distributed.Client``
with the item's proxy (never resolved here: the worker reads the object from
its store), bounds the tasks in flight, yields one
[`DispatchResult`][proxyflow.executors.results.DispatchResult] per item and
acknowledges items whose source can. A
[`ResultPolicy`][proxyflow.executors.policy.ResultPolicy] sends large
results back by reference too.

Example:
    ```python
    from concurrent.futures import ProcessPoolExecutor
    from proxyflow.executors import dispatch

    with ProcessPoolExecutor(4) as pool, consumer:
        for outcome in dispatch(consumer, analyse, pool, max_in_flight=8):
            print(outcome.metadata, outcome.get())
    ```
"""

from __future__ import annotations

from proxyflow.executors.__about__ import __version__
from proxyflow.executors.dispatcher import DEFAULT_MAX_IN_FLIGHT, Dispatcher, dispatch
from proxyflow.executors.engines import engine_for, is_dask_client
from proxyflow.executors.exceptions import (
    DispatchCancelledError,
    DispatcherClosedError,
    DispatchTimeoutError,
    ExecutorsError,
    UnsupportedExecutorError,
)
from proxyflow.executors.policy import DEFAULT_MIN_BYTES, ResultPolicy, result_nbytes
from proxyflow.executors.protocols import AckingItemSource, ItemSource, RejectingItemSource
from proxyflow.executors.results import DispatchResult, DispatchStats, Settlement
from proxyflow.executors.tasks import ProxyTask, StoredResult

__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_MIN_BYTES",
    "AckingItemSource",
    "DispatchCancelledError",
    "DispatchResult",
    "DispatchStats",
    "DispatchTimeoutError",
    "Dispatcher",
    "DispatcherClosedError",
    "ExecutorsError",
    "ItemSource",
    "ProxyTask",
    "RejectingItemSource",
    "ResultPolicy",
    "Settlement",
    "StoredResult",
    "UnsupportedExecutorError",
    "__version__",
    "dispatch",
    "engine_for",
    "is_dask_client",
    "result_nbytes",
]
