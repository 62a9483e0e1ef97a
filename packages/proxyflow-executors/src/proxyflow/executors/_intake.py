"""Reading the source and submitting tasks, with back-pressure.

An [`Intake`][proxyflow.executors._intake.Intake] reads the source on a
thread of its own, holds each item it reads until the dispatcher hands its
result back, and submits one [`ProxyTask`][proxyflow.executors.tasks.ProxyTask]
per attempt. It holds at most ``max_in_flight`` items: while that many are
held, it stops reading. Whatever happens is put on the dispatcher's event
queue (a task done, a submission failed, the reader ended).
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from typing import Any

from proxyflow.executors._events import Done, Entry, Event, ReaderEnded, SubmitFailed
from proxyflow.executors._tally import Tally
from proxyflow.executors.engines import Engine
from proxyflow.executors.policy import ResultPolicy
from proxyflow.executors.tasks import ProxyTask

__all__ = ["Intake"]


class Intake:
    """The reader thread, the items held and the tasks running.

    ``held`` (read, result not handed back) and ``running`` (with a live
    future) are guarded by the dispatcher's ``lock``.

    Args:
        read_pair: The source's ``next_with_metadata``.
        engine: Where tasks run.
        fn: The function each task calls on its item.
        policy: How tasks store large results, if at all.
        max_in_flight: Items held at once.
        lock: The dispatcher's lock.
        events: The dispatcher's event queue.
        tally: The dispatcher's counters.
        on_stopped: Gives back an item that came to be submitted after ``stop``.
    """

    def __init__(
        self,
        read_pair: Callable[[], tuple[Any, Any]],
        engine: Engine,
        fn: Callable[[Any], Any],
        policy: ResultPolicy | None,
        *,
        max_in_flight: int,
        lock: threading.Lock,
        events: queue.SimpleQueue[Event],
        tally: Tally,
        on_stopped: Callable[[Entry], None],
    ) -> None:
        self._read_pair = read_pair
        self._engine = engine
        self._fn = fn
        self._policy = policy
        self._lock = lock
        self._events = events
        self._tally = tally
        self._on_stopped = on_stopped
        self._slots = threading.Semaphore(max_in_flight)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.held: dict[int, Entry] = {}
        self.running: dict[int, Entry] = {}

    @property
    def stopping(self) -> bool:
        """Whether [`stop`][proxyflow.executors._intake.Intake.stop] was called."""
        return self._stopping.is_set()

    def start(self) -> None:
        """Start reading the source on a daemon thread."""
        self._thread = threading.Thread(
            target=self._read_loop, name="proxyflow-dispatch-reader", daemon=True
        )
        self._thread.start()

    def free_slot(self) -> None:
        """Make room for one more item (its result was handed back)."""
        self._slots.release()

    def stop(self) -> list[Entry]:
        """Stop reading and submitting (call with the lock held); return the running items."""
        self._stopping.set()
        return list(self.running.values())

    def wake(self) -> None:
        """Wake a reader waiting for room, so that it sees the stop."""
        self._slots.release()

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for the reader thread (it may be blocked in the source)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _read_loop(self) -> None:
        error: BaseException | None = None
        counter = itertools.count()
        try:
            while True:
                self._slots.acquire()
                if self._stopping.is_set():
                    break
                try:
                    metadata, item = self._read_pair()
                except StopIteration:
                    break
                except BaseException as exc:  # raised at the caller, in its turn
                    error = exc
                    break
                entry = Entry(next(counter), metadata, item)
                with self._lock:
                    self.held[entry.index] = entry
                self._tally.count("read")
                self.submit(entry)
        finally:
            self._events.put(ReaderEnded(error))

    def submit(self, entry: Entry) -> None:
        """Submit one attempt of ``entry``'s task (from any thread)."""
        task = ProxyTask(self._fn, entry.item, self._policy)
        with self._lock:
            stopping = self._stopping.is_set()
            if not stopping:
                entry.attempts += 1
                try:
                    future = self._engine.submit(task)
                except Exception as exc:  # not picklable, executor shut down, ...
                    self._events.put(SubmitFailed(entry, exc))
                    return
                entry.future = future
                self.running[entry.index] = entry
                self._tally.count_locked("submitted")
        if stopping:
            self._on_stopped(entry)
            return
        self._engine.add_done_callback(future, lambda: self._events.put(Done(entry, future)))
