"""Results by reference: [`ResultPolicy`][proxyflow.executors.policy.ResultPolicy]."""

from __future__ import annotations

import pickle
from typing import Any

from proxyflow.proxy import Proxy
from proxyflow.store import Store, StoreConfig, get_or_create_store

__all__ = ["DEFAULT_MIN_BYTES", "ResultPolicy", "result_nbytes"]

DEFAULT_MIN_BYTES = 64 * 1024
"""Results of at least this many bytes go to the store by default (64 KiB)."""


def result_nbytes(value: Any) -> int:
    """Estimate how many bytes ``value`` takes on the wire, without copying its buffers.

    Binary objects count their length; objects with an integer ``nbytes``
    attribute (NumPy arrays, memoryviews) count it; anything else counts its
    pickle (protocol 5) with out-of-band buffers measured, not copied.

    Args:
        value: A task's result.

    Returns:
        The estimated size in bytes.

    Raises:
        pickle.PicklingError: If ``value`` cannot be pickled (the engine could
            not send it either).
    """
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    size = getattr(value, "nbytes", None)
    if isinstance(size, int):
        return size
    buffers: list[pickle.PickleBuffer] = []
    stream = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    return len(stream) + sum(memoryview(b).nbytes for b in buffers)


class ResultPolicy:
    """Stores large task results and returns a proxy instead, in the worker.

    Give it to [`dispatch`][proxyflow.executors.dispatcher.dispatch] as
    ``results=``. The worker calls
    [`apply`][proxyflow.executors.policy.ResultPolicy.apply] on what the task
    returned: a result of at least ``min_bytes`` is put in the store and
    replaced by a proxy of about 150 bytes, so the bulk bytes never pass
    through the engine (a Dask scheduler, a process pool's pipes) and are read
    only where the proxy is used. Smaller results travel as they are. (The
    task wraps the proxy in a
    [`StoredResult`][proxyflow.executors.tasks.StoredResult] for the trip,
    which the dispatcher unwraps.)

    The policy pickles as the store's config, so every worker rebuilds (once
    per process) the same store through
    [`get_or_create_store`][proxyflow.store.get_or_create_store]. The store
    must therefore be reachable from the workers: a file store on a shared
    directory or a Redis store, not a ``local`` one.

    Args:
        store: The store (or its config) to put large results in.
        min_bytes: Results of at least this many bytes (by
            [`result_nbytes`][proxyflow.executors.policy.result_nbytes]) are stored.
        evict: Whether a stored result is removed from the store when its
            proxy is first resolved (a result is normally read once).

    Raises:
        ValueError: If ``min_bytes`` is negative.

    Example:
        ```python
        policy = ResultPolicy(store, min_bytes=1 << 20)
        for outcome in dispatch(consumer, simulate, pool, results=policy):
            field = outcome.get()  # a proxy for results of 1 MiB and more
        ```
    """

    __slots__ = ("config", "evict", "min_bytes")

    def __init__(
        self,
        store: Store | StoreConfig,
        *,
        min_bytes: int = DEFAULT_MIN_BYTES,
        evict: bool = True,
    ) -> None:
        if min_bytes < 0:
            raise ValueError(f"min_bytes must be >= 0, got {min_bytes!r}")
        self.config = store if isinstance(store, StoreConfig) else store.config()
        self.min_bytes = min_bytes
        self.evict = evict

    def apply(self, value: Any) -> Any:
        """Return ``value``, or a proxy of it after storing it when it is large.

        A result that already is a proxy is returned unchanged.

        Args:
            value: What a task returned.

        Returns:
            ``value`` itself, or a [`Proxy`][proxyflow.proxy.Proxy] of it.
        """
        if type(value) is Proxy:
            return value
        if result_nbytes(value) < self.min_bytes:
            return value
        return get_or_create_store(self.config).proxy(value, evict=self.evict)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_policy, (self.config, self.min_bytes, self.evict))

    def __repr__(self) -> str:
        return (
            f"ResultPolicy(store={self.config.name!r}, min_bytes={self.min_bytes}, "
            f"evict={self.evict})"
        )


def _policy(config: StoreConfig, min_bytes: int, evict: bool) -> ResultPolicy:
    return ResultPolicy(config, min_bytes=min_bytes, evict=evict)
