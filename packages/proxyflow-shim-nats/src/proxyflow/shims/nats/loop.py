"""One background event loop per process for the synchronous NATS classes.

nats-py is asyncio-only. The synchronous publisher and subscriber run their
asyncio cores on a single event loop on a daemon thread, shared by every
synchronous object of the process:

* **Started lazily** by the first object ([`acquire`][proxyflow.shims.nats.loop.acquire])
  and **stopped** when the last one is closed ([`release`][proxyflow.shims.nats.loop.release]);
  a later object starts a new one.
* **At interpreter exit** objects still open are closed (each within a few
  seconds: unsettled deliveries are given back, pipelined sends confirmed)
  and the thread is stopped; being a daemon thread, it can never hold up exit.
* **After fork** the child starts its own loop when it creates its own
  objects. Objects inherited from the parent belong to the parent's loop,
  which has no thread in the child: using them raises
  [`UsedAfterForkError`][proxyflow.shims.nats.exceptions.UsedAfterForkError]
  and closing them only marks them closed, without touching the connection
  the parent still uses.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import os
import threading
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

from proxyflow.api import Closeable
from proxyflow.shims.nats._call import Doorbell, LoopCall
from proxyflow.shims.nats.exceptions import UsedAfterForkError

__all__ = ["LoopRunner", "OnSharedLoop", "acquire", "release"]

T = TypeVar("T")
log = logging.getLogger("proxyflow.shims.nats")


class _Closable(Protocol):
    def close(self) -> None: ...


class LoopRunner:
    """An asyncio event loop running on its own daemon thread."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.users = 0
        self._calls: set[LoopCall[Any]] = set()
        self._stopping = False
        self._doorbell = Doorbell(self.loop, self._start)
        self._thread = threading.Thread(target=self._run, name="proxyflow-nats-loop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self._doorbell.open()
            self.loop.run_forever()
        finally:
            self._stopping = True  # calls scheduled from now on are refused
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._doorbell.close()
            self.loop.close()
            for call in list(self._calls):  # scheduled, but the loop ended first
                call.never_started()

    @property
    def alive(self) -> bool:
        """Whether the loop thread is running."""
        return self._thread.is_alive()

    @property
    def in_loop_thread(self) -> bool:
        """Whether the calling thread is the loop's own thread."""
        return threading.current_thread() is self._thread

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and return its result (or raise its error).

        If the calling thread is interrupted (``KeyboardInterrupt``) or
        ``timeout`` passes, the coroutine is cancelled. One crossing costs a
        wake-up of the loop (an ``eventfd`` on Linux), a task and a lock (see
        ``LoopCall`` in the private module ``proxyflow.shims.nats._call``).

        Raises:
            RuntimeError: if called from the loop's own thread (it would
                deadlock), or if the loop is closed or ends before running ``coro``.
            concurrent.futures.CancelledError: if the coroutine was cancelled on
                the loop (the loop is stopping).
        """
        if self.in_loop_thread:
            coro.close()
            raise RuntimeError("a synchronous NATS call was made from its own event loop thread")
        call = LoopCall(coro, self._calls)
        try:
            self._doorbell.ring(call)
        except RuntimeError:  # the loop is closed
            call.give_up()
            coro.close()
            raise
        except BaseException:  # interrupted while handing over: the loop may have started it
            self._give_up(call)
            raise
        try:
            finished = call.wait(timeout)
        except BaseException:  # KeyboardInterrupt and the like, in the calling thread
            self._give_up(call)
            raise
        if not finished and self._give_up(call):
            raise TimeoutError(f"no result within {timeout}s")
        if not finished:
            call.wait(None)  # finished just as the wait timed out: its lock is released now
        error = call.error
        if error is not None:
            raise error
        return call.result  # type: ignore[return-value]  # set when error is None

    def _start(self, call: LoopCall[Any]) -> None:
        call.start(self._stopping)

    def _give_up(self, call: LoopCall[Any]) -> bool:
        """Cancel ``call`` unless it finished; ``True`` if it was cancelled."""
        if not call.give_up():
            return False
        with contextlib.suppress(RuntimeError):  # a closed loop runs nothing anyway
            self.loop.call_soon_threadsafe(call.cancel)
        return True

    def call_soon(self, callback: Callable[..., object], *args: object) -> None:
        """Run ``callback(*args)`` on the loop soon, without waiting."""
        self.loop.call_soon_threadsafe(callback, *args)

    def stop(self) -> None:
        """Stop the loop and wait for its thread (unless called from that thread)."""
        if self.loop.is_closed():
            return
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:  # closed meanwhile
            return
        if not self.in_loop_thread:
            self._thread.join(timeout=10)


class _Registry:
    """The process's runner and the objects using it (replaced wholesale in a forked child)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.current: LoopRunner | None = None
        self.open_objects: weakref.WeakSet[_Closable] = weakref.WeakSet()


_registry = _Registry()
_inherited: list[_Registry] = []  # a forked child keeps (and never uses) the parent's


def acquire(owner: _Closable) -> LoopRunner:
    """Return the process's loop runner, starting it if needed, and count ``owner`` as a user."""
    registry = _registry
    with registry.lock:
        runner = registry.current
        if runner is None or not runner.alive or runner.pid != os.getpid():
            runner = registry.current = LoopRunner()
        runner.users += 1
        registry.open_objects.add(owner)
        return runner


def release(runner: LoopRunner, owner: _Closable) -> None:
    """Count ``owner`` out; stop ``runner`` when it has no users left."""
    if runner.pid != os.getpid():
        return
    registry = _registry
    with registry.lock:
        registry.open_objects.discard(owner)
        runner.users -= 1
        if runner.users > 0:
            return
        if registry.current is runner:
            registry.current = None
    runner.stop()


def _after_fork_in_child() -> None:
    # The parent's loop thread does not exist here, and its lock may be held:
    # start from a fresh registry, keeping the old one alive so that nothing
    # of the parent's (sockets, the loop) is closed by garbage collection.
    global _registry  # noqa: PLW0603 - the one module-level object fork must replace
    _inherited.append(_registry)
    _registry = _Registry()


def _close_at_exit() -> None:
    registry = _registry
    with registry.lock:
        owners = list(registry.open_objects)
    for owner in owners:
        try:
            owner.close()
        except Exception as exc:
            log.warning("closing %r at exit failed: %s", owner, exc)
    runner = registry.current
    if runner is not None and runner.pid == os.getpid():
        runner.stop()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_at_exit)

_CLOSE_TIMEOUT = 15.0


class OnSharedLoop(Closeable):
    """Base of the synchronous classes: runs an asyncio core on the shared loop.

    Knows the process that created it (a forked child gets
    [`UsedAfterForkError`][proxyflow.shims.nats.exceptions.UsedAfterForkError])
    and whether it is closed (calls then raise ``_closed_error``).
    """

    _closed_error: type[Exception] = RuntimeError

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._closed = False
        self._runner: LoopRunner = acquire(self)

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called."""
        return self._closed

    def _check_process(self) -> None:
        if os.getpid() != self._pid:
            raise UsedAfterForkError(
                f"this {type(self).__name__} was created in process {self._pid}; its "
                f"connection belongs to that process. Create a new one in process {os.getpid()}"
            )

    def _describe(self) -> str:
        return type(self).__name__

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the shared loop; a closed object raises its closed error."""
        try:
            self._check_process()
            if self._closed:
                raise self._closed_error(f"the {self._describe()} is closed")
        except BaseException:
            coro.close()
            raise
        try:
            return self._runner.run(coro, timeout)
        except (concurrent.futures.CancelledError, RuntimeError) as exc:
            if self._closed or self._runner.loop.is_closed():
                raise self._closed_error(f"the {self._describe()} is closed") from exc
            raise

    def _close_core(self, coro: Coroutine[Any, Any, None]) -> None:
        if self._closed:
            coro.close()
            return
        self._closed = True
        if os.getpid() != self._pid:
            coro.close()  # never touch the parent's loop from a forked child
            return
        try:
            self._runner.run(coro, _CLOSE_TIMEOUT)
        finally:
            release(self._runner, self)
