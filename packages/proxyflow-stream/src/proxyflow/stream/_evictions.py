"""Evicting acknowledged objects, and trying again the evictions that failed.

A consumer evicts an object once its delivery is acknowledged. When the
store is down the eviction fails, yet the object was delivered: rather than
leaving it in the store for good, `Evictions` keeps ``(store, key)`` (at most
`EVICT_RETRY_LIMIT` of them) and tries it again

* once a later eviction from the same store succeeds (the store is back; a
  store that is still down costs no extra call), and
* a last time when the consumer closes (`Evictions.finish`).

What still fails then, and what did not fit in the list, is left in its
store: counted in ``ConsumerStats.evict_failures`` and logged on the
``proxyflow.stream`` logger. ``ConsumerStats.evict_retries`` counts the
evictions kept to try again. Failures are never raised: the object was
acknowledged, nothing is lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from proxyflow.store import Store
from proxyflow.stream._stats import ConsumerStats

__all__ = ["EVICT_RETRY_LIMIT", "Evictions"]

EVICT_RETRY_LIMIT = 1000
"""Failed evictions a consumer keeps to try again; beyond, objects are counted and left."""

_log = logging.getLogger("proxyflow.stream")


class Evictions:
    """The evictions of one consumer's acknowledged objects, with the failed ones kept.

    Thread-safe; store calls are made outside the lock.

    Args:
        stats: The consumer's counters (``evict_retries``, ``evict_failures``).
    """

    def __init__(self, stats: ConsumerStats) -> None:
        self._stats = stats
        self._lock = threading.Lock()
        self._kept: list[tuple[Store, Any]] = []
        self._finished = False

    @property
    def finished(self) -> bool:
        """Whether the last try was made (`finish`): failures are now counted at once."""
        return self._finished

    @property
    def waiting(self) -> int:
        """How many failed evictions are kept to try again."""
        with self._lock:
            return len(self._kept)

    def evict(self, evictions: Sequence[tuple[Store, Any]]) -> None:
        """Evict ``(store, key)`` pairs; keep failures, retry those kept for stores that work."""
        answered: list[Store] = []
        for store, key in evictions:
            if _try_evict(store, key, "could not evict acknowledged object %r from %s: %s"):
                if not any(store is seen for seen in answered):
                    answered.append(store)
            else:
                self._keep(store, key)
        if answered and self._kept:
            self.retry(answered)

    def _keep(self, store: Store, key: Any) -> None:
        """Keep a failed eviction to try again; count it as left when it cannot be kept."""
        with self._lock:
            finished = self._finished
            kept = not finished and len(self._kept) < EVICT_RETRY_LIMIT
            if kept:
                self._kept.append((store, key))
                self._stats.evict_retries += 1
        if not kept:
            self._stats.evict_failures += 1
            _log.warning(
                "acknowledged object %r is left in %s: its eviction failed and %s",
                key,
                store,
                "the consumer is closed"
                if finished
                else f"{EVICT_RETRY_LIMIT} failed evictions are kept already",
            )

    def retry(self, stores: Sequence[Store] | None = None, *, final: bool = False) -> None:
        """Try again the evictions that failed: of ``stores`` only, or all of them.

        A store that fails again is not asked for its other objects this
        time. They stay kept for a later try; with ``final`` (closing) they
        are counted in ``stats.evict_failures`` and logged instead.
        """
        with self._lock:
            if final:
                self._finished = True
            due = self._kept
            if stores is None:
                self._kept = []
            else:
                self._kept = [e for e in due if not any(e[0] is s for s in stores)]
                due = [e for e in due if any(e[0] is s for s in stores)]
        down: list[Store] = []
        for store, key in due:
            failed = any(store is d for d in down)
            if not failed and not _try_evict(store, key, "evicting %r from %s failed again: %s"):
                failed = True
                down.append(store)
            if not failed:
                continue
            if final:
                self._stats.evict_failures += 1
                _log.warning("acknowledged object %r is left in %s (eviction failed)", key, store)
            else:
                with self._lock:
                    self._kept.append((store, key))

    def finish(self) -> None:
        """Make the last try (the consumer is closing); what still fails is left, counted."""
        self.retry(final=True)


def _try_evict(store: Store, key: Any, message: str) -> bool:
    """Evict ``key`` from ``store``; log a failure with ``message`` and return ``False``."""
    try:
        store.evict(key)
    except Exception as exc:  # acknowledged: the object lingers, nothing is lost
        _log.warning(message, key, store, exc)
        return False
    return True
