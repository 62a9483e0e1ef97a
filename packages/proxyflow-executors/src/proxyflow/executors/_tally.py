"""The dispatcher's counters, updated from its threads."""

from __future__ import annotations

import threading

from proxyflow.executors.results import DispatchStats

__all__ = ["Tally"]


class Tally:
    """Adds to the counters of a [`DispatchStats`][proxyflow.executors.results.DispatchStats].

    Args:
        stats: The counters the dispatcher shows.
        lock: The dispatcher's lock (held while a counter changes).
    """

    def __init__(self, stats: DispatchStats, lock: threading.Lock) -> None:
        self.stats = stats
        self._lock = lock

    def count(self, counter: str) -> None:
        """Add one to ``counter`` (a field of ``DispatchStats``); takes the lock."""
        with self._lock:
            self.count_locked(counter)

    def count_locked(self, counter: str) -> None:
        """Add one to ``counter`` while the caller holds the lock."""
        setattr(self.stats, counter, getattr(self.stats, counter) + 1)
