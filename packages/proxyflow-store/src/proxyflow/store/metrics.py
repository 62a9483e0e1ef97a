"""Opt-in per-store operation metrics (``Store(..., metrics=True)``)."""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Any

__all__ = ["OPERATIONS", "StoreMetrics"]

OPERATIONS = ("put", "put_batch", "get", "get_batch", "evict", "exists")
"""The store operations that are measured."""


class StoreMetrics:
    """Counters of one store instance, updated under a lock.

    For each operation in [`OPERATIONS`][proxyflow.store.metrics.OPERATIONS]:
    ``count`` (calls), ``objects`` (objects handled), ``bytes`` (serialized
    bytes moved) and ``seconds`` (total wall time). Also cache hits and misses,
    and what this instance believes storage holds *on its behalf*:
    ``objects_held``/``bytes_held`` grow on put and shrink when this instance
    evicts (or reads with ``evict=True``) a key it put. Objects evicted by other
    processes are not seen. This is the seam for byte-based back-pressure.

    Examples:
        >>> m = StoreMetrics()
        >>> m.record("put", objects=1, nbytes=10, seconds=0.001)
        >>> m.snapshot()["operations"]["put"]["bytes"]
        10
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ops: dict[str, dict[str, float]] = {
            op: {"count": 0, "objects": 0, "bytes": 0, "seconds": 0.0} for op in OPERATIONS
        }
        self._held: dict[Hashable, int] = {}
        self._bytes_held = 0
        self._cache_hits = 0
        self._cache_misses = 0

    def record(self, operation: str, *, objects: int = 1, nbytes: int = 0, seconds: float) -> None:
        """Add one call of ``operation``.

        Args:
            operation: One of [`OPERATIONS`][proxyflow.store.metrics.OPERATIONS].
            objects: Number of objects the call handled.
            nbytes: Serialized bytes moved.
            seconds: Wall time of the call.
        """
        with self._lock:
            entry = self._ops[operation]
            entry["count"] += 1
            entry["objects"] += objects
            entry["bytes"] += nbytes
            entry["seconds"] += seconds

    def cache(self, *, hit: bool) -> None:
        """Count one cache lookup."""
        with self._lock:
            if hit:
                self._cache_hits += 1
            else:
                self._cache_misses += 1

    def hold(self, key: Hashable, nbytes: int) -> None:
        """Note that this instance stored ``nbytes`` under ``key``."""
        with self._lock:
            self._bytes_held += nbytes - self._held.get(key, 0)
            self._held[key] = nbytes

    def release(self, key: Hashable) -> None:
        """Note that ``key`` was evicted (ignored if this instance did not store it)."""
        with self._lock:
            self._bytes_held -= self._held.pop(key, 0)

    @property
    def objects_held(self) -> int:
        """Objects put by this instance and not evicted by it."""
        with self._lock:
            return len(self._held)

    @property
    def bytes_held(self) -> int:
        """Serialized bytes put by this instance and not evicted by it."""
        with self._lock:
            return self._bytes_held

    def snapshot(self) -> dict[str, Any]:
        """Return a JSON-serializable copy of every counter.

        Returns:
            ``{"operations": {op: {"count", "objects", "bytes", "seconds"}},
            "cache_hits", "cache_misses", "objects_held", "bytes_held"}``.
        """
        with self._lock:
            return {
                "operations": {
                    op: {
                        "count": int(v["count"]),
                        "objects": int(v["objects"]),
                        "bytes": int(v["bytes"]),
                        "seconds": float(v["seconds"]),
                    }
                    for op, v in self._ops.items()
                },
                "cache_hits": self._cache_hits,
                "cache_misses": self._cache_misses,
                "objects_held": len(self._held),
                "bytes_held": self._bytes_held,
            }
