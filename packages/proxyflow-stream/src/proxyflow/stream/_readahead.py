"""Prefetch heuristics: what one fill of the prefetch thread reads, and how it resolves it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from proxyflow.serialize import SerializationError
from proxyflow.store import Store
from proxyflow.stream._ack_types import Ticket
from proxyflow.stream._acks import AckTracker
from proxyflow.stream._decode import StoredItem
from proxyflow.stream._prefetch import Entry
from proxyflow.stream._reader import CONTENT_ERRORS, EventReader
from proxyflow.stream._resolver import MISSING, fetch
from proxyflow.stream._source import InlineObject, Kept, ObjectSource
from proxyflow.stream._stats import ConsumerStats
from proxyflow.stream.exceptions import ConsumerClosedError, StreamObjectMissingError

__all__ = ["MAX_PROBE_BACKOFF", "ProbeBackoff", "ReadAhead", "resolve", "resolve_held"]

MAX_PROBE_BACKOFF = 16
"""Most fills whose subscriber probes are skipped after a probe found nothing."""


class ProbeBackoff:
    """Which prefetch fills ask the subscriber for messages that already arrived.

    Such a probe costs an exception and a system call when nothing arrived,
    so after a probe found nothing the next 1, 2, 4 ... `MAX_PROBE_BACKOFF`
    fills skip theirs. Shared by the synchronous and asyncio read-ahead.
    """

    __slots__ = ("_backoff", "_skip")

    def __init__(self) -> None:
        self._backoff = 0
        self._skip = 0

    def begin(self) -> bool:
        """Start a fill: whether it may probe the subscriber."""
        probe = self._skip == 0
        self._skip = max(0, self._skip - 1)
        return probe

    def end(self, found: bool) -> None:
        """End a fill that probed: ``found`` tells whether the probes took a message."""
        self._backoff = 0 if found else min(MAX_PROBE_BACKOFF, 2 * self._backoff or 1)
        self._skip = self._backoff


class ReadAhead:
    """Fills the prefetch queue: the next item, then those already waiting, resolved together.

    One fill waits for the next kept item, adds the items that can be had
    without waiting (decoded ones, and messages that already arrived) up to
    the room left, then resolves them in order; consecutive stored items of
    one store with the same evict flag are read with **one**
    ``store.get_batch``.

    Probes of the subscriber back off while they find nothing
    (`ProbeBackoff`); items already decoded are still batched.

    Args:
        source: The consumer's item source (its lock is taken per fill).
        reader: The consumer's event reader (to see whether probes found messages).
        acks: The acknowledgement tracker, with an acknowledging subscriber:
            objects are then read without evicting them (they are evicted
            when their delivery is acknowledged), each entry carries its
            item's ticket, and an item whose object cannot be read is
            settled at once (see `AckTracker.failed`).
    """

    __slots__ = ("__weakref__", "_acks", "_probes", "_reader", "_source")

    def __init__(
        self, source: ObjectSource, reader: EventReader, acks: AckTracker | None = None
    ) -> None:
        self._acks = acks
        self._source = source
        self._reader = reader
        self._probes = ProbeBackoff()

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
            receive = self._probes.begin()
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
                self._probes.end(found=self._reader.taken > taken)
        if self._acks is None:
            entries, failed = resolve(batch, source.resolver.cache)
        else:
            entries, failed = self._resolve_held(batch)
        stop = error is not None or failed
        if error is not None:
            entries.append(error)
        return entries, stop

    def _resolve_held(self, batch: list[Kept]) -> tuple[list[Entry], bool]:
        """Resolve items of deliveries without evicting; attach each item's ticket."""
        assert self._acks is not None
        return resolve_held(batch, self._acks, self._source.resolver.cache)


def resolve_held(
    batch: list[Kept], acks: AckTracker, stores: Mapping[bytes, Store]
) -> tuple[list[Entry], bool]:
    """Resolve items of deliveries in order without evicting; each entry carries its ticket.

    Each item is taken from the books first (its object is evicted when its
    delivery is acknowledged); an item whose object cannot be read is
    settled at once (see `AckTracker.failed`) and its error is its entry.
    Shared by both consumers' prefetch (the asyncio one runs it in a worker
    thread).

    Args:
        batch: The kept items, in stream order.
        acks: The acknowledgement tracker.
        stores: The resolver's cache: packed config -> store.

    Returns:
        The entries, ``(metadata, object, ticket)`` or an error, and whether
        any of them is an error.
    """
    tickets: list[Ticket] = []
    kept: list[Kept] = []
    for item in batch:
        if type(item) is InlineObject:
            tickets.append(acks.take(item.item, None))
            kept.append(item)
        else:
            assert type(item) is StoredItem
            tickets.append(acks.take(item, stores[item.store_config]))
            kept.append(item._replace(evict=False) if item.evict else item)
    entries, failed = resolve(kept, stores)
    for i, ticket in enumerate(tickets):
        entry = entries[i]
        if isinstance(entry, BaseException):
            acks.failed(ticket, entry)
        else:
            entries[i] = (entry[0], entry[1], ticket)
    return entries, failed


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
        if len(group) > 1 and first.digest is None:  # signed items are checked one by one
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


class _HandsOut(Protocol):
    def hand_out(self, obj: Any, ticket: Ticket) -> None: ...


def open_entry(
    entry: Entry,
    stats: ConsumerStats,
    acks: _HandsOut | None,
    reader: EventReader,
    end: type[Exception],
) -> tuple[dict[str, Any], Any] | None:
    """What a prefetched entry means for the caller who took it, for both consumers.

    Returns the ``(metadata, object)`` to hand out (counted, and with
    acknowledgements recorded as handed out), or ``None`` for a content error
    skipped in skip mode (counted by ``reader``); raises the entry's error in
    its place in the stream, or ``end`` (``StopIteration`` or
    ``StopAsyncIteration``) if the consumer was closed while the caller waited.
    """
    if not isinstance(entry, BaseException):
        stats.objects += 1
        if len(entry) == 3:
            acks.hand_out(entry[1], entry[2])  # type: ignore[union-attr]
            return entry[0], entry[1]
        return entry
    if isinstance(entry, ConsumerClosedError):
        raise end  # closed while this call waited: the stream ended
    if isinstance(entry, StreamObjectMissingError) or not isinstance(entry, CONTENT_ERRORS):
        raise entry
    reader.skip_bad(entry)  # a hostile key or stored bytes: skipped in skip mode
    return None
