"""Prefetch heuristics: what one fill of the prefetch thread reads, and how it resolves it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proxyflow.serialize import SerializationError
from proxyflow.store import Store
from proxyflow.stream._decode import StoredItem
from proxyflow.stream._prefetch import Entry
from proxyflow.stream._reader import EventReader
from proxyflow.stream._resolver import MISSING, fetch
from proxyflow.stream._source import InlineObject, Kept, ObjectSource
from proxyflow.stream.exceptions import StreamObjectMissingError

__all__ = ["MAX_PROBE_BACKOFF", "ReadAhead", "resolve"]

MAX_PROBE_BACKOFF = 16
"""Most fills whose subscriber probes are skipped after a probe found nothing."""


class ReadAhead:
    """Fills the prefetch queue: the next item, then those already waiting, resolved together.

    One fill waits for the next kept item, adds the items that can be had
    without waiting (decoded ones, and messages that already arrived) up to
    the room left, then resolves them in order; consecutive stored items of
    one store with the same evict flag are read with **one**
    ``store.get_batch``.

    Asking the subscriber for a message that has not arrived costs an
    exception and a system call, so after a probe found nothing the next 1,
    2, 4 ... `MAX_PROBE_BACKOFF` fills skip their probes (items already
    decoded are still batched).

    Args:
        source: The consumer's item source (its lock is taken per fill).
        reader: The consumer's event reader (to see whether probes found messages).
    """

    __slots__ = ("__weakref__", "_backoff", "_reader", "_skip_probes", "_source")

    def __init__(self, source: ObjectSource, reader: EventReader) -> None:
        self._source = source
        self._reader = reader
        self._backoff = 0
        self._skip_probes = 0

    def fill(self, room: int) -> tuple[list[Entry], bool]:
        """Return up to ``room`` entries in stream order, and whether the thread should stop.

        The thread stops after an error (it is the last entry) so that it
        never runs ahead of one.
        """
        error: BaseException | None = None
        source = self._source
        with source.lock:
            first = source.next()
            assert first is not None
            batch = [first]
            receive = self._skip_probes == 0
            self._skip_probes = max(0, self._skip_probes - 1)
            taken = self._reader.taken
            while len(batch) < room:
                try:
                    found = source.next(probe=True, receive=receive)
                except Exception as exc:  # raised in its turn, after the batch
                    error = exc
                    break
                if found is None:
                    break
                batch.append(found)
            if receive and room > 1:
                probed = self._reader.taken > taken
                self._backoff = 0 if probed else min(MAX_PROBE_BACKOFF, 2 * self._backoff or 1)
                self._skip_probes = self._backoff
        entries, failed = resolve(batch, source.resolver.cache)
        stop = error is not None or failed
        if error is not None:
            entries.append(error)
        return entries, stop


def resolve(batch: list[Kept], stores: Mapping[bytes, Store]) -> tuple[list[Entry], bool]:
    """Resolve items in order; consecutive ones of a store share one ``get_batch``.

    Each failure (a missing object, an unreadable one) becomes an entry of
    its own, in its place; the other objects are delivered.

    Args:
        batch: The kept items, in stream order.
        stores: The resolver's cache: packed config -> store.

    Returns:
        The entries, and whether any of them is a failure.
    """
    entries: list[Entry] = []
    append = entries.append
    failed = False
    i, count = 0, len(batch)
    while i < count:
        first = batch[i]
        if type(first) is InlineObject:
            append((first.item.metadata, first.value))
            i += 1
            continue
        assert type(first) is StoredItem
        config, evict = first.store_config, first.evict
        store = stores[config]
        j = i + 1
        while j < count:  # extend the group while the store and the evict flag are the same
            kept = batch[j]
            if type(kept) is not StoredItem or kept.evict is not evict:
                break
            if kept.store_config is not config and stores[kept.store_config] is not store:
                break
            j += 1
        group: list[StoredItem] = batch[i:j]  # type: ignore[assignment]
        i = j
        values: list[Any] | None = None
        if len(group) > 1:
            try:
                values = store.get_batch(
                    [g.key for g in group], default=MISSING, evict=evict, return_exceptions=True
                )
            except Exception:
                values = None  # nothing was read: resolve one by one, each with its error
        for k, stored in enumerate(group):
            error: BaseException | None = None
            if values is None:
                try:
                    append((stored.metadata, fetch(store, stored)))
                    continue
                except Exception as exc:
                    error = exc
            elif values[k] is MISSING:
                error = StreamObjectMissingError(stored.key, store.name)
            elif isinstance(values[k], SerializationError):
                error = values[k]
            else:
                append((stored.metadata, values[k]))
                continue
            append(error)
            failed = True
    return entries, failed
