"""Items waiting to be submitted again, by the time they are due."""

from __future__ import annotations

import heapq
from typing import NamedTuple

from proxyflow.executors._events import Entry

__all__ = ["RetryQueue"]


class _Due(NamedTuple):
    at: float
    position: int
    """The item's index: breaks ties in stream order (entries do not compare)."""
    entry: Entry


class RetryQueue:
    """Failed items to resubmit after their ``retry_delay``, earliest first.

    Not thread-safe: the dispatcher calls it with its lock held. Times are
    ``time.monotonic()`` values.
    """

    def __init__(self) -> None:
        self._heap: list[_Due] = []

    def push(self, entry: Entry, at: float) -> None:
        """Resubmit ``entry`` at time ``at``."""
        heapq.heappush(self._heap, _Due(at, entry.index, entry))

    def next_due(self) -> float | None:
        """When the earliest retry is due, or ``None`` when none waits."""
        return self._heap[0].at if self._heap else None

    def pop_due(self, now: float) -> Entry | None:
        """Return and forget an item due at ``now``, or ``None``."""
        if not self._heap or self._heap[0].at > now:
            return None
        return heapq.heappop(self._heap).entry

    def clear(self) -> None:
        """Forget every waiting item (when closing: they are given back)."""
        self._heap.clear()
