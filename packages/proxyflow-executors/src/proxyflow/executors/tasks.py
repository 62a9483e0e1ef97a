"""[`ProxyTask`][proxyflow.executors.tasks.ProxyTask]: a task that carries its proxy inside."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from proxyflow.executors.policy import ResultPolicy

__all__ = ["ProxyTask", "StoredResult"]

R = TypeVar("R")


class StoredResult:
    """A task result that a [`ResultPolicy`][proxyflow.executors.policy.ResultPolicy] stored.

    The proxy travels back inside this small wrapper so that the engine does
    not look at it: a worker that checks ``isinstance`` on a result (Dask's
    does) would resolve a proxy of unknown type and, with ``evict=True``,
    remove the object before the caller gets it.
    [`dispatch`][proxyflow.executors.dispatcher.dispatch] unwraps it; take
    ``.proxy`` when submitting a [`ProxyTask`][proxyflow.executors.tasks.ProxyTask] yourself.

    Args:
        proxy: The proxy of the stored result.
    """

    __slots__ = ("proxy",)

    def __init__(self, proxy: Any) -> None:
        self.proxy = proxy

    def __reduce__(self) -> tuple[Any, ...]:
        return (StoredResult, (self.proxy,))

    def __repr__(self) -> str:
        return f"StoredResult({self.proxy!r})"


class ProxyTask(Generic[R]):
    """A picklable, argument-free call ``fn(item)``, optionally storing its result.

    Engines inspect the *arguments* of a task: Dask, for instance, checks each
    one with ``isinstance`` and looks up its ``__dask_*`` attributes, and
    ``isinstance`` on a proxy whose type is unknown (every proxy a stream
    consumer hands out) resolves it. Submitting ``ProxyTask(fn, proxy)`` with
    no arguments keeps the proxy out of the engine's sight: only its pickle
    (about 150 bytes) travels, and the worker resolves it when ``fn`` uses it.

    Args:
        fn: The function to call in the worker; it must be picklable.
        item: Its one argument, usually a proxy.
        results: A policy applied to what ``fn`` returns, in the worker.

    Example:
        ```python
        future = client.submit(ProxyTask(np.sum, proxy), pure=False)
        ```
    """

    __slots__ = ("_token", "fn", "item", "results")

    def __init__(
        self, fn: Callable[[Any], R], item: Any, results: ResultPolicy | None = None
    ) -> None:
        self.fn = fn
        self.item = item
        self.results = results
        self._token: str | None = None

    def __call__(self) -> R | StoredResult:
        """Call ``fn(item)`` and apply the result policy, if any.

        Returns:
            What ``fn`` returned, or a
            [`StoredResult`][proxyflow.executors.tasks.StoredResult] holding a
            proxy when the policy stored it.
        """
        value = self.fn(self.item)
        if self.results is None:
            return value
        stored = self.results.apply(value)
        return value if stored is value else StoredResult(stored)

    @property
    def name(self) -> str:
        """The name of ``fn``, for task keys and logs."""
        name = getattr(self.fn, "__name__", None)
        return name if isinstance(name, str) else type(self.fn).__name__

    def __dask_tokenize__(self) -> tuple[str, str]:
        """Dask's token for this task: random, drawn once (the proxy is not looked at)."""
        if self._token is None:
            self._token = uuid.uuid4().hex
        return ("proxyflow.executors.ProxyTask", self._token)

    def __reduce__(self) -> tuple[Any, ...]:
        return (ProxyTask, (self.fn, self.item, self.results))

    def __repr__(self) -> str:
        return f"ProxyTask({self.name})"
