"""The small structural type of the queues this shim accepts."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["QueueLike"]


class QueueLike(Protocol):
    """Anything with the ``put``/``get`` signature of `queue.Queue`.

    `queue.Queue`, `queue.SimpleQueue`, the queues of
    `multiprocessing` (including ``Manager().Queue()`` proxies) all fit.
    ``put`` raises `queue.Full` and ``get`` raises `queue.Empty`
    when they give up, as the standard library queues do.
    """

    def put(self, item: Any, /, block: bool = ..., timeout: float | None = ...) -> None:
        """Put ``item`` on the queue."""
        ...

    def get(self, block: bool = ..., timeout: float | None = ...) -> Any:
        """Remove and return an item."""
        ...
