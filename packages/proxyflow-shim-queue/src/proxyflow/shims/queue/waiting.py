"""Waiting in asyncio for a queue operation, a close, or a deadline, whichever comes first."""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["QUEUE_SHUT_DOWN", "CloseSignal"]

QUEUE_SHUT_DOWN: tuple[type[BaseException], ...] = tuple(
    error for error in (getattr(asyncio, "QueueShutDown", None),) if error is not None
)
"""What an ``asyncio.Queue`` raises once ``shutdown()`` (Python 3.13+); empty before 3.13."""


class CloseSignal:
    """Ends the waits of an asyncio publisher or subscriber when it is closed.

    [`wait`][proxyflow.shims.queue.waiting.CloseSignal.wait] runs a queue
    operation (``queue.get()``, ``queue.put(item)``) as a task and returns
    once it finished, the deadline passed, or
    [`fire`][proxyflow.shims.queue.waiting.CloseSignal.fire] was called
    (by ``close()``, from another task). An operation that did not finish is
    cancelled, which undoes it: an ``asyncio.Queue`` cancelled in ``get`` or
    ``put`` leaves the queue as it was.
    """

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    def fire(self) -> None:
        """Wake every wait in progress; later waits are not affected (check ``closed`` first)."""
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self, operation: asyncio.Future[Any], timeout: float | None) -> bool:
        """Wait for ``operation``, at most ``timeout`` seconds (``None``: forever) or until fired.

        Args:
            operation: The task of the queue operation.
            timeout: Seconds to wait.

        Returns:
            Whether ``operation`` finished (read its result); if not, it was
            cancelled and had no effect.
        """
        fired = asyncio.get_running_loop().create_future()
        self._waiters.add(fired)
        try:
            await asyncio.wait(
                (operation, fired), timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            self._waiters.discard(fired)
            fired.cancel()
            if not operation.done():
                operation.cancel()
        return operation.done()
