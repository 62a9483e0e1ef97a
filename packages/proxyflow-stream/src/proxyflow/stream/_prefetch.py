"""A background thread that keeps the next few results of a stream ready (consumer prefetch)."""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeAlias

__all__ = ["Entry", "PrefetchStopped", "Prefetcher"]

Entry: TypeAlias = tuple[dict[str, Any], Any] | tuple[dict[str, Any], Any, Any] | BaseException
"""One result of the prefetch thread, in stream order: what the caller returns,
a ``(metadata, object)`` pair (with acknowledgements, ``(metadata, object,
ticket)``), or what it raises in this place, an exception."""

Fill = Callable[[int], tuple[list[Entry], bool]]

_IDLE_CHECK = 1.0
"""Seconds between checks, while the queue is full, that the owner still exists."""


class PrefetchStopped(Exception):
    """`Prefetcher.take` was waiting when `Prefetcher.stop` was called."""


_STOP_ENTRY = PrefetchStopped()
"""Put by `Prefetcher.stop` to wake a waiting caller."""


class Prefetcher:
    """Runs ``fill(room)`` in a daemon thread so that up to ``capacity`` entries wait in order.

    ``fill`` blocks until it has at least one entry and returns ``(entries,
    stop)``; an exception it raises becomes an entry that raises it. After a
    fill that failed or asked to stop (an error, the end of the stream) the
    thread ends, and the next `take` on an empty queue starts a new one, so an
    error never hides what follows it and nothing runs ahead of an error.

    Hand-offs go through two C-level ``queue.SimpleQueue`` objects (entries
    one way, free slots the other) rather than a ``threading.Condition``,
    which halves the cost of waking the other thread. Once the queue is
    full, the thread waits until half of it was taken before filling again,
    so that one fill gathers several entries (one batched store read).

    ``fill`` is held through a weak reference to a bound method, so the thread
    does not keep its owner alive while it waits for room.

    Args:
        capacity: Entries kept ready at most (``>= 1``).
        fill: A bound method producing entries, as above.
        name: The thread's name.
    """

    def __init__(self, capacity: int, fill: Fill, name: str) -> None:
        self._capacity = capacity
        self._refill = max(1, capacity - capacity // 2)
        self._fill = weakref.WeakMethod(fill)
        self._name = name
        self._ready: queue.SimpleQueue[Entry] = queue.SimpleQueue()
        self._slots: queue.SimpleQueue[bool] = queue.SimpleQueue()
        for _ in range(capacity):
            self._slots.put(True)
        self._lock = threading.Lock()  # guards _running against the last put of a thread
        self._running = False
        self._debt = 0
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.started = False
        """Whether a thread was ever started (the owner then serves every call from it)."""

    @property
    def waiting(self) -> int:
        """Entries ready and not taken yet."""
        return 0 if self._stopping else self._ready.qsize()

    def take(self) -> Entry:
        """Return the next entry, starting the thread when needed.

        Raises:
            PrefetchStopped: If `stop` was called and nothing is ready.
        """
        ready = self._ready
        try:
            entry = ready.get_nowait()
        except queue.Empty:
            with self._lock:
                if self._stopping:
                    raise PrefetchStopped from None
                if not self._running and ready.empty():
                    self._start()
            entry = ready.get()
        if entry is _STOP_ENTRY:
            ready.put(entry)  # for any other waiting caller
            raise PrefetchStopped
        self._slots.put(True)
        return entry

    def _start(self) -> None:
        self.started = True
        self._running = True
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def _room(self) -> int:
        """Wait for free slots (``_refill`` of them when none is free); return how many."""
        slots = self._slots
        room = -self._debt
        self._debt = 0
        while True:
            try:
                slots.get_nowait()
                room += 1
            except queue.Empty:
                break
        while room < (1 if room > 0 else self._refill) and not self._stopping:
            try:
                slots.get(timeout=_IDLE_CHECK)
                room += 1
            except queue.Empty:
                if self._fill() is None:  # the owner is gone
                    self._stopping = True
        return max(room, 0)

    def _run(self) -> None:
        while True:
            room = self._room()
            fill = None if self._stopping else self._fill()
            if fill is None:
                entries: list[Entry] = []
                stop = True
            else:
                try:
                    entries, stop = fill(room)
                except BaseException as exc:
                    entries, stop = [exc], True
                del fill
            for _ in range(room - len(entries)):
                self._slots.put(True)  # unused slots go back
            # An error added after a full batch takes a slot it did not wait for.
            self._debt = max(0, len(entries) - room)
            with self._lock:
                for entry in entries:
                    self._ready.put(entry)
                if stop:
                    self._running = False
            if stop:
                return

    def stop(self, timeout: float) -> bool:
        """Stop the thread, drop what is ready and wait up to ``timeout`` s for the thread to end.

        Returns:
            Whether no thread is running any more.
        """
        with self._lock:
            self._stopping = True
            while True:
                try:
                    self._ready.get_nowait()
                except queue.Empty:
                    break
            self._ready.put(_STOP_ENTRY)
            self._slots.put(True)  # wakes a thread waiting for room
            thread = self._thread if self._running else None
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        return not thread.is_alive()
