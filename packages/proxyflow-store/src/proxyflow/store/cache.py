"""A small thread-safe LRU cache of deserialized objects."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

__all__ = ["LRUCache", "cache_id"]

_MISS: tuple[bool, Any] = (False, None)


def cache_id(key: Any) -> Hashable:
    """Return a hashable stand-in for a connector key (keys are small JSON values)."""
    try:
        hash(key)
    except TypeError:
        return json.dumps(key, sort_keys=True)
    return key  # type: ignore[no-any-return]


class LRUCache:
    """A thread-safe least-recently-used mapping with a fixed number of entries.

    Args:
        maxsize: Maximum number of entries; ``0`` disables the cache.

    Examples:
        >>> cache = LRUCache(1)
        >>> cache.put("a", 1)
        >>> cache.put("b", 2)
        >>> cache.get("a"), cache.get("b")
        ((False, None), (True, 2))
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 0:
            raise ValueError("maxsize must be >= 0")
        self._maxsize = maxsize
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def maxsize(self) -> int:
        """Maximum number of entries."""
        return self._maxsize

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._data

    def get(self, key: Hashable) -> tuple[bool, Any]:
        """Return ``(True, value)`` and mark it recently used, or ``(False, None)``."""
        if not self._data:
            return _MISS
        with self._lock:
            try:
                value = self._data[key]
            except KeyError:
                return _MISS
            self._data.move_to_end(key)
            return True, value

    def put(self, key: Hashable, value: Any) -> None:
        """Insert or refresh ``key``, dropping the least recently used entry if full."""
        if self._maxsize == 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._maxsize:
                self._data.popitem(last=False)

    def pop(self, key: Hashable) -> tuple[bool, Any]:
        """Remove ``key``; return ``(True, value)`` if it was cached, else ``(False, None)``."""
        if not self._data:
            return _MISS  # empty (always, when disabled): no lock needed
        with self._lock:
            if key in self._data:
                return True, self._data.pop(key)
            return False, None

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._data.clear()
