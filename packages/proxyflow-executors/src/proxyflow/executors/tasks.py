"""[`ProxyTask`][proxyflow.executors.tasks.ProxyTask]: a task that carries its proxy inside."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from proxyflow.executors.policy import ResultPolicy

__all__ = ["ProxyTask"]

R = TypeVar("R")


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

    __slots__ = ("fn", "item", "results")

    def __init__(
        self, fn: Callable[[Any], R], item: Any, results: ResultPolicy | None = None
    ) -> None:
        self.fn = fn
        self.item = item
        self.results = results

    def __call__(self) -> R:
        """Call ``fn(item)`` and apply the result policy, if any."""
        value = self.fn(self.item)
        if self.results is not None:
            return self.results.apply(value)  # type: ignore[no-any-return]
        return value

    @property
    def name(self) -> str:
        """The name of ``fn``, for task keys and logs."""
        name = getattr(self.fn, "__name__", None)
        return name if isinstance(name, str) else type(self.fn).__name__

    def __reduce__(self) -> tuple[Any, ...]:
        return (ProxyTask, (self.fn, self.item, self.results))

    def __repr__(self) -> str:
        return f"ProxyTask({self.name})"
