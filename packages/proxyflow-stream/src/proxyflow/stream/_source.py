"""The consumer's lock and the loop it guards: the next kept item, with its store or object."""

from __future__ import annotations

import threading
from typing import Any, NamedTuple, TypeAlias

from proxyflow.store import Store
from proxyflow.stream._ack_types import Outcome
from proxyflow.stream._acks import AckTracker
from proxyflow.stream._decode import InlineItem, Item, StoredItem
from proxyflow.stream._draining import EndWait, GroupDrain, end_wait
from proxyflow.stream._filtering import Selection
from proxyflow.stream._inline import inline_object
from proxyflow.stream._reader import CONTENT_ERRORS, EventReader
from proxyflow.stream._resolver import StoreResolver
from proxyflow.stream._settling import SettleClock
from proxyflow.stream._stats import ConsumerStats
from proxyflow.stream.exceptions import (
    ConsumerClosedError,
)

__all__ = ["InlineObject", "Kept", "ObjectSource"]

_new = tuple.__new__  # builds a named tuple without a Python-level call

"""Seconds of each wait for a message while the end waits for deliveries to be settled."""


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
        acks: The acknowledgement tracker, with an acknowledging subscriber:
            items the caller never sees are settled here (dropped ones are
            acknowledged; unusable ones rejected; those whose store cannot
            be built given back).
    """

    __slots__ = (
        "_acks",
        "_keeps",
        "_predicate",
        "_reader",
        "_stats",
        "closed",
        "drain",
        "lock",
        "resolver",
        "store",
        "timeout",
    )

    def __init__(
        self,
        reader: EventReader,
        resolver: StoreResolver,
        selection: Selection,
        stats: ConsumerStats,
        acks: AckTracker | None = None,
    ) -> None:
        self._acks = acks
        self._reader = reader
        self.resolver = resolver
        self._predicate = selection.predicate
        self._keeps = selection.keeps
        self._stats = stats
        self.lock = threading.Lock()
        self.closed = False
        self.store: Store | None = None
        """The store of the stored item `next` returned last (read it under ``lock``)."""
        self.timeout: float | None = None
        """The consumer's timeout (how long the end waits for outstanding deliveries)."""
        self.drain: GroupDrain | None = None
        """With acknowledgements on a work-sharing group that reports its backlog: the
        end also waits until the group has drained."""

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
                    waiting = None if probe else end_wait(reader, self._acks, self.drain)
                    if waiting is EndWait.SETTLE:
                        self._await_settled(self._acks)  # type: ignore[arg-type]
                        continue
                    if waiting is EndWait.DRAIN:
                        self._await_drained(self.drain)  # type: ignore[arg-type]
                        continue
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
                    except CONTENT_ERRORS as exc:
                        self._unusable(item, exc)
                        reader.skip_bad(exc)
                        continue
                    except BaseException as exc:
                        self._unusable(item, exc)
                        raise
                self.store = store
                return item
            try:
                value = inline_object(item.serializer, item.payload)  # type: ignore[union-attr]
            except CONTENT_ERRORS as exc:
                self._unusable(item, exc)
                reader.skip_bad(exc)
                continue
            return _new(InlineObject, (item, value))

    def _await_settled(self, acks: AckTracker) -> None:
        """At the end of the stream, wait until nothing read is unsettled or owed back.

        Items handed out and not settled yet may still be given back, and
        deliveries given back come again: the stream has not ended for this
        consumer until they did. Returns when a message arrived (or nothing is
        outstanding any more). Every settlement counts as progress and
        restarts the timeout.

        Raises:
            ConsumerTimeoutError: If nothing was settled and no message came
                within the consumer's timeout.
        """
        reader = self._reader
        clock = SettleClock(acks, self.timeout)
        while acks.outstanding():
            if self.closed:
                return  # close() gave everything back: the stream ends here
            if reader.receive(wait=clock.next_wait()):
                return

    def _await_drained(self, drain: GroupDrain) -> None:
        """At the end of the stream, read on until the group's backlog is empty (see `GroupDrain`).

        Returns when the backlog was seen empty, or a message arrived (it may
        be a delivery a dead member held), or the consumer was closed.

        Raises:
            ConsumerTimeoutError: If no message came and the backlog did not
                change within the consumer's timeout.
        """
        reader = self._reader
        drain.start()
        while not self.closed:
            try:
                if drain.observe([drain.backlog(topic) for topic in drain.topics()]):
                    return
            except EOFError:  # the subscriber was closed: the stream ends here
                drain.drained = True
                return
            if reader.receive(wait=drain.next_wait()):
                return
        drain.drained = True  # closed while waiting: the stream ends here

    def _unusable(self, item: Item, error: BaseException) -> None:
        """Settle an item that cannot be handed out: rejected if bad, else given back."""
        acks = self._acks
        if acks is None:
            return
        bad = isinstance(error, CONTENT_ERRORS)  # the content: redelivery cannot help
        acks.discard(item, Outcome.REJECT if bad else Outcome.NACK)

    def _drop(self, item: Item) -> None:
        """Count a dropped item and evict its object when its event asked for eviction.

        With acknowledgements, the item is acknowledged instead, and its
        object evicted when its whole delivery is.
        """
        self._stats.filtered += 1
        acks = self._acks
        if type(item) is StoredItem and item.evict:
            try:
                store = self.resolver.store(item.store_config)
            except CONTENT_ERRORS as exc:
                self._unusable(item, exc)
                self._reader.skip_bad(exc)
                return
            except BaseException as exc:
                self._unusable(item, exc)
                raise
            if acks is None:
                store.evict(item.key)
            else:
                acks.discard(item, Outcome.ACK, store)
        elif acks is not None:
            acks.discard(item, Outcome.ACK)

    def release(self, *, stores: bool) -> None:
        """Drop the pending items and, with ``stores``, close the stores built for them.

        Waits for the lock: call it after setting ``closed`` and closing the
        subscriber, so that a caller blocked on a message returns first.
        """
        with self.lock:
            self._reader.pending.clear()
            if stores:
                self.resolver.close_owned()
