"""One coroutine run on the shared event loop for a thread that waits for it.

The synchronous classes cross to the loop thread once per call. A
[`LoopCall`][proxyflow.shims.nats._call.LoopCall] makes that crossing cheap:
the caller hands it to the loop through the
[`Doorbell`][proxyflow.shims.nats._call.Doorbell] (an ``eventfd`` on Linux,
else ``loop.call_soon_threadsafe``), a plain callback starts the coroutine as
a task, and the caller blocks on a bare lock that the task releases as its
last step. Compared with ``asyncio.run_coroutine_threadsafe`` this saves a
``concurrent.futures.Future`` (its condition variable and callbacks) and one
turn of the loop per call.

Every call is finished exactly once, by whoever takes it out of the runner's
set of pending calls: the task when it ends, the caller when it gives up
(timeout, ``KeyboardInterrupt``; the task is then cancelled), or the loop
thread when the loop ends with calls it never ran.
"""

from __future__ import annotations

import _thread
import asyncio
import collections
import concurrent.futures
import contextlib
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

__all__ = ["Doorbell", "LoopCall"]

T = TypeVar("T")


class LoopCall(Generic[T]):
    """A coroutine to run on the loop, and the lock its caller waits on.

    Args:
        coro: The coroutine.
        pending: The runner's calls not finished yet; this call is added to it.
    """

    __slots__ = (
        "_cancelled",
        "_coro",
        "_done",
        "_pending",
        "_running",
        "_task",
        "error",
        "result",
    )

    def __init__(self, coro: Coroutine[Any, Any, T], pending: set[LoopCall[Any]]) -> None:
        self._coro = coro
        self._pending = pending
        self._done = _thread.allocate_lock()
        self._done.acquire()
        self._task: asyncio.Task[None] | None = None
        self._cancelled = False
        self._running = False
        self.result: T | None = None
        self.error: BaseException | None = None
        pending.add(self)

    # -- on the loop thread -------------------------------------------------------

    def start(self, stopping: bool) -> None:
        """Start the coroutine as a task (runs on the loop); ``stopping``: refuse it."""
        if self._cancelled or stopping:
            self._coro.close()
            self.finish(concurrent.futures.CancelledError())
            return
        self._task = asyncio.get_running_loop().create_task(self._body())

    async def _body(self) -> None:
        self._running = True
        try:
            self.result = await self._coro
        except asyncio.CancelledError:
            self.error = concurrent.futures.CancelledError()  # what the caller sees
        except BaseException as exc:  # handed to the caller, as with a concurrent future
            self.error = exc
        self.finish(None)

    def cancel(self) -> None:
        """Cancel the task, or make ``start`` refuse to start it (runs on the loop)."""
        self._cancelled = True
        if self._task is not None:
            self._task.cancel()
            if not self._running:  # cancelled before its first step: it never runs
                self._coro.close()

    def finish(self, error: BaseException | None) -> None:
        """Wake the caller, unless the call was finished (or given up) already."""
        try:
            self._pending.remove(self)
        except KeyError:
            return
        if error is not None:
            self.error = error
        self._done.release()

    def never_started(self) -> None:
        """Finish a call the loop ended without running to its end (runs on the loop thread).

        Its task, if any, was cancelled before its first step.
        """
        if not self._running:
            self._coro.close()
        self.finish(RuntimeError("the event loop ended before the call could run"))

    # -- on the caller's thread ---------------------------------------------------

    def wait(self, timeout: float | None) -> bool:
        """Wait until the call is finished; ``False`` if ``timeout`` passed first."""
        return self._done.acquire(True, -1 if timeout is None else timeout)

    def give_up(self) -> bool:
        """Stop waiting: ``True`` if the call was still running (its task gets cancelled).

        ``False`` means it finished meanwhile: its ``result`` or ``error`` stand.
        """
        try:
            self._pending.remove(self)
        except KeyError:
            return False
        return True


class Doorbell:
    """How callers on other threads hand calls to the loop and wake it.

    Where the platform has one (Linux), an ``eventfd`` the loop watches: a
    burst of calls costs one write and one wake-up of the loop thread, and an
    ``eventfd`` write is cheaper than the loop's own self-pipe behind
    ``call_soon_threadsafe``, the fallback elsewhere.

    Args:
        loop: The event loop (not running yet: ``open`` is called on its thread).
        on_call: Starts a call (runs on the loop).
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, on_call: Callable[[LoopCall[Any]], None]
    ) -> None:
        self._loop = loop
        self._on_call = on_call
        self._lock = threading.Lock()
        self._queued: collections.deque[LoopCall[Any]] = collections.deque()
        self._rung = False
        self._closed = False
        self._fd: int | None = None

    def open(self) -> None:
        """Start watching the eventfd (runs on the loop thread, before the loop runs)."""
        if not _HAS_EVENTFD:
            return
        try:
            fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        except OSError:  # out of file descriptors, say: call_soon_threadsafe will do
            return
        self._loop.add_reader(fd, self._answer)
        self._fd = fd

    def ring(self, call: LoopCall[Any]) -> None:
        """Hand ``call`` to the loop (any thread).

        Raises:
            RuntimeError: if the loop is closed or closing.
        """
        if self._fd is None:
            self._loop.call_soon_threadsafe(self._on_call, call)
            return
        with self._lock:
            if self._closed:
                raise RuntimeError("the event loop is closed")
            self._queued.append(call)
            if not self._rung:
                self._rung = True
                os.eventfd_write(self._fd, 1)

    def _answer(self) -> None:
        with self._lock:
            with contextlib.suppress(BlockingIOError):
                os.eventfd_read(self._fd)  # type: ignore[arg-type]  # open: an fd
            self._rung = False
            calls = list(self._queued)
            self._queued.clear()
        for call in calls:
            self._on_call(call)

    def close(self) -> None:
        """Stop watching and close the eventfd (loop thread; the loop is not closed yet)."""
        with self._lock:
            self._closed = True
            fd, self._fd = self._fd, None
            self._queued.clear()  # still among the runner's pending calls: ended there
        if fd is not None:
            self._loop.remove_reader(fd)
            os.close(fd)


_HAS_EVENTFD = hasattr(os, "eventfd")
