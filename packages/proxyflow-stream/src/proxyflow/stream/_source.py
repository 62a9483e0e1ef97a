"""The consumer's lock and the loop it guards: the next kept item, with its store or object."""

from __future__ import annotations

import threading
from typing import Any, NamedTuple, TypeAlias

from proxyflow.store import Store
from proxyflow.stream._decode import InlineItem, Item, StoredItem
from proxyflow.stream._filtering import Selection
from proxyflow.stream._inline import inline_object
from proxyflow.stream._reader import EventReader
from proxyflow.stream._resolver import StoreResolver
from proxyflow.stream._stats import ConsumerStats
from proxyflow.stream.exceptions import ConsumerClosedError, EventDecodeError

__all__ = ["InlineObject", "Kept", "ObjectSource"]

_new = tuple.__new__  # builds a named tuple without a Python-level call


class InlineObject(NamedTuple):
    """An inline item with the object rebuilt from its payload.

    Attributes:
        item: The decoded item (metadata, sequence number, producer...).
        value: The object.
    """

    item: InlineItem
    value: Any


Kept: TypeAlias = StoredItem | InlineObject
"""An item ready to be handed out: a stored item (its store is then
`ObjectSource.store`, and in the resolver's cache under its ``store_config``)
or an inline object."""


class ObjectSource:
    """Hands out the stream's kept items, one caller at a time.

    ``lock`` serializes everything that reads the stream: the subscriber, the
    pending items, the end-of-stream accounting and the store cache, so that
    threads may share a consumer and each item goes to exactly one of them.
    For each item it applies the consumer's selection (a dropped stored
    object is evicted when its event asked for eviction), then finds its
    store or rebuilds its inline object.

    Args:
        reader: The event reader.
        resolver: The store resolver.
        selection: Which items are dropped.
        stats: The consumer's counters.
    """

    __slots__ = ("_keeps", "_predicate", "_reader", "_stats", "closed", "lock", "resolver", "store")

    def __init__(
        self,
        reader: EventReader,
        resolver: StoreResolver,
        selection: Selection,
        stats: ConsumerStats,
    ) -> None:
        self._reader = reader
        self.resolver = resolver
        self._predicate = selection.predicate
        self._keeps = selection.keeps
        self._stats = stats
        self.lock = threading.Lock()
        self.closed = False
        self.store: Store | None = None
        """The store of the stored item `next` returned last (read it under ``lock``)."""

    def next(self, *, probe: bool = False, receive: bool = True) -> Kept | None:
        """Return the next kept item, ready; ``lock`` must be held.

        A stored item is returned once its store is found (``store`` then
        holds it, until the next call); an inline item comes with its object
        rebuilt.

        With ``probe``, return ``None`` instead of waiting for a message (or
        reporting the end of the stream), and take messages from the
        subscriber only if ``receive`` (else only items already decoded).

        Raises:
            StopIteration: If the stream has ended (not with ``probe``).
            ConsumerClosedError: If the consumer is closed.
            ConsumerTimeoutError: If no message arrived in time.
            EventDecodeError: On a bad message, unless bad messages are skipped.
            ConnectorNotAllowedError: If an item's store is not allowed.
        """
        if self.closed:
            raise ConsumerClosedError("the consumer is closed")
        reader = self._reader
        pending = reader.pending
        predicate = self._predicate
        cache = self.resolver.cache
        while True:
            if not pending:
                if reader.ending.done:
                    if probe:
                        return None
                    raise StopIteration
                if probe and not receive:
                    return None
                if not reader.receive(probe=probe):
                    return None
                continue
            item = pending.popleft()
            if predicate is not None and (
                not predicate(item.metadata) if self._keeps else predicate(item.metadata)
            ):
                self._drop(item)
                continue
            if type(item) is StoredItem:
                store = cache.get(item.store_config)
                if store is None:
                    try:
                        store = self.resolver.store(item.store_config)
                    except EventDecodeError as exc:
                        reader.skip_bad(exc)
                        continue
                self.store = store
                return item
            try:
                value = inline_object(item.serializer, item.payload)  # type: ignore[union-attr]
            except EventDecodeError as exc:
                reader.skip_bad(exc)
                continue
            return _new(InlineObject, (item, value))

    def _drop(self, item: Item) -> None:
        """Count a dropped item and evict its object when its event asked for eviction."""
        self._stats.filtered += 1
        if type(item) is StoredItem and item.evict:
            try:
                store = self.resolver.store(item.store_config)
            except EventDecodeError as exc:
                self._reader.skip_bad(exc)
                return
            store.evict(item.key)

    def release(self, *, stores: bool) -> None:
        """Drop the pending items and, with ``stores``, close the stores built for them.

        Waits for the lock: call it after setting ``closed`` and closing the
        subscriber, so that a caller blocked on a message returns first.
        """
        with self.lock:
            self._reader.pending.clear()
            if stores:
                self.resolver.close_owned()
