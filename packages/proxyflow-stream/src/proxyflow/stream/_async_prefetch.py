"""An asyncio task that keeps the next few results of a stream ready (asyncio consumer prefetch).

The asyncio form of [`Prefetcher`][proxyflow.stream._prefetch.Prefetcher]:
the same entries, in the same order, with the same rule that the filling
stops after an error, but filled by one asyncio task on the consumer's loop
instead of a daemon thread, and handed over through a ``deque`` and two
``asyncio.Event`` objects. The task's blocking work (store reads) runs in
one worker thread of its own (`in_worker`), as the synchronous prefetch
reads in its one thread: on the machine of the benchmarks, spreading 1 MiB
reads over the default executor's threads made them about twice as slow
(each thread's malloc arena gives its freed buffers back to the system and
faults them in again).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from proxyflow.stream._prefetch import Entry, PrefetchStopped

__all__ = ["AsyncFill", "AsyncPrefetcher"]

AsyncFill = Callable[[int], Awaitable[tuple[list[Entry], bool]]]
"""``await fill(room)``: at least one and at most ``room`` entries, and whether to stop."""

_R = TypeVar("_R")


class AsyncPrefetcher:
    """Keeps up to ``capacity`` entries of ``await fill(room)`` ready, in order, from a task.

    ``fill`` waits until it has at least one entry and returns ``(entries,
    stop)``; an exception it raises becomes an entry that raises it. After a
    fill that failed or asked to stop (an error, the end of the stream) the
    task ends, and the next `take` on an empty queue starts a new one, so an
    error never hides what follows it and nothing runs ahead of an error.

    Each fill takes all the room there is: while the caller keeps up with
    the reads, fills are small and the queue stays full; when the reads are
    slower, the room grows and one fill gathers several entries (one batched
    store read, one worker thread hop). A `take` that makes room for a
    task waiting for it yields to the loop once before it returns, so the
    task starts its next read (in its worker thread) while the caller works
    on what it took: a caller that never awaits anything else would
    otherwise empty the queue before the task runs again, and no read would
    overlap its work. (Waiting for half of the queue to be free instead, so
    that fills are larger, made 1 MiB reads slower on the benchmark machine:
    freeing several large buffers at once lets malloc give them back to the
    system, and the next reads fault them in again.)

    A caller cancelled in `take` loses nothing: an entry leaves the queue
    only with a `take` that returns it (one cancelled while it yields puts
    its entry back in front), and the task filling the queue belongs to the
    prefetcher, not to the caller.

    Args:
        capacity: Entries kept ready at most (``>= 1``).
        fill: The coroutine function producing entries, as above.
        name: The task's name.
    """

    __slots__ = (
        "_arrived",
        "_blocked",
        "_capacity",
        "_fill",
        "_name",
        "_ready",
        "_stopping",
        "_taken",
        "_task",
        "_worker",
        "started",
    )

    def __init__(self, capacity: int, fill: AsyncFill, name: str) -> None:
        self._capacity = capacity
        self._fill = fill
        self._name = name
        self._ready: deque[Entry] = deque()
        self._arrived = asyncio.Event()  # set when entries were added, or on stop
        self._taken = asyncio.Event()  # set when room was made for the task, or on stop
        self._blocked = False  # the task waits for room
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._worker: ThreadPoolExecutor | None = None
        self.started = False
        """Whether a task was ever started (the owner then serves every call from it)."""

    @property
    def waiting(self) -> int:
        """Entries ready and not taken yet."""
        return 0 if self._stopping else len(self._ready)

    @property
    def running(self) -> bool:
        """Whether a task is filling the queue now."""
        return self._task is not None

    async def take(self) -> Entry:
        """Return the next entry, starting the task when needed.

        Raises:
            PrefetchStopped: If `stop` was called.
        """
        ready = self._ready
        while True:
            if self._stopping:
                raise PrefetchStopped
            if ready:
                entry = ready.popleft()
                if self._blocked:
                    self._blocked = False
                    self._taken.set()
                    try:
                        await asyncio.sleep(0)  # the task starts its next read now
                    except asyncio.CancelledError:
                        ready.appendleft(entry)
                        raise
                return entry
            if self._task is None:
                self._start()
            self._arrived.clear()
            await self._arrived.wait()  # cancelled here, this caller took nothing

    def in_worker(self, call: Callable[..., _R], *args: Any) -> asyncio.Future[_R]:
        """Run ``call(*args)`` in the prefetcher's worker thread (started on first use)."""
        worker = self._worker
        if worker is None:
            worker = self._worker = ThreadPoolExecutor(1, thread_name_prefix=self._name)
        return asyncio.get_running_loop().run_in_executor(worker, functools.partial(call, *args))

    def _start(self) -> None:
        self.started = True
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self._name)

    async def _room(self) -> int:
        """Wait until the queue is not full; return how many entries fit."""
        ready, capacity = self._ready, self._capacity
        while len(ready) >= capacity and not self._stopping:
            self._taken.clear()
            self._blocked = True
            try:
                await self._taken.wait()
            finally:
                self._blocked = False
        return capacity - len(ready)

    async def _run(self) -> None:
        try:
            while not self._stopping:
                room = await self._room()
                if self._stopping:
                    return
                try:
                    entries, stop = await self._fill(room)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    entries, stop = [exc], True
                if self._stopping:
                    return
                self._ready.extend(entries)
                self._arrived.set()
                if stop:
                    return
        finally:
            self._task = None
            self._arrived.set()  # a caller waiting for an entry looks again

    async def stop(self, timeout: float) -> bool:
        """Stop the task, drop what is ready and wait up to ``timeout`` s for the task to end.

        Waiting callers get `PrefetchStopped`. The task is cancelled where it
        waits; ``fill`` should let work it started in a worker thread finish
        before it gives in, so that nothing touches a store after this returns.
        Then the worker thread of `in_worker` is shut down (and waited for, up
        to ``timeout`` s).

        Returns:
            Whether no task is running any more.
        """
        self._stopping = True
        self._ready.clear()
        self._arrived.set()
        self._taken.set()
        task = self._task
        stopped = True
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=timeout)
            for finished in done:
                with contextlib.suppress(asyncio.CancelledError):
                    finished.exception()  # retrieved, so asyncio does not log it
            stopped = bool(done)
        worker, self._worker = self._worker, None
        if worker is not None:
            # Idle once the task has ended: its thread exits at once (else after its read).
            ending = asyncio.ensure_future(asyncio.to_thread(worker.shutdown, stopped))
            await asyncio.wait({ending}, timeout=timeout)
        return stopped
