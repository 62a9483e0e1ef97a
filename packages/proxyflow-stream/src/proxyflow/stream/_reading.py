"""How [`StreamConsumer`][proxyflow.stream.consumer.StreamConsumer] hands out its next item.

Kept apart from the consumer's shell: `Reading` is mixed into it and works on
its object source (``_source``), prefetch thread (``_prefetcher``) and
acknowledgement tracker (``_acks``): the next kept item is taken under the
source's lock (or from the prefetch thread, once it runs), then handed out as a
proxy or read now, tracked when the subscriber acknowledges. The public
``*_with_metadata``, ``next_object`` and ``iter_*`` forms live here too; the
consumer keeps ``next``, its hot path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic

from proxyflow.proxy import Proxy
from proxyflow.stream._acking import Acknowledging, release_before_next
from proxyflow.stream._prefetch import Prefetcher, PrefetchStopped
from proxyflow.stream._readahead import open_entry
from proxyflow.stream._reader import CONTENT_ERRORS, EventReader
from proxyflow.stream._resolver import fetch
from proxyflow.stream._source import InlineObject, ObjectSource
from proxyflow.stream._stats import ConsumerStats
from proxyflow.stream._typing import T
from proxyflow.stream._until_end import until_end
from proxyflow.stream.exceptions import ConsumerClosedError, StreamObjectMissingError

__all__ = ["Reading"]


class Reading(Acknowledging, Generic[T]):
    """The ``next*`` / ``iter*`` forms of a stream consumer but ``next`` (and ``ack``...)."""

    stats: ConsumerStats
    _closed: bool
    _prefetcher: Prefetcher | None
    _reader: EventReader
    _source: ObjectSource

    def _next_item(self, *, resolve: bool) -> tuple[dict[str, Any], Any]:
        """Return the next kept object's metadata and the object, as a proxy or resolved now."""
        acks = self._acks
        if acks is not None:
            release_before_next(acks, self._closed)
        prefetcher = self._prefetcher
        if prefetcher is not None and (resolve or prefetcher.started):
            return self._take(prefetcher)
        source = self._source
        while True:
            with source.lock:
                kept = source.next()
                store = source.store
                self.stats.objects += 1
            try:
                if acks is not None:
                    return self._held_item(acks, kept, store, resolve=resolve)
                if type(kept) is InlineObject:
                    return kept.item.metadata, kept.value
                assert store is not None
                if not resolve:
                    proxy = store.proxy_from_key(kept.key, evict=kept.evict, digest=kept.digest)  # type: ignore[union-attr]
                    return kept.metadata, proxy  # type: ignore[union-attr]
                return kept.metadata, fetch(store, kept)  # type: ignore[union-attr,arg-type]
            except StreamObjectMissingError:
                raise
            except CONTENT_ERRORS as exc:  # a hostile key or stored bytes: skipped in skip mode
                self.stats.objects -= 1
                self._reader.skip_bad(exc)

    def _take(self, prefetcher: Prefetcher) -> tuple[dict[str, Any], Any]:
        """Return the next prefetched object, or raise the error recorded in its place."""
        if self._closed:
            raise ConsumerClosedError("the consumer is closed")
        while True:
            try:
                entry = prefetcher.take()
            except PrefetchStopped:
                raise StopIteration from None  # closed while waiting: the stream ended
            item = open_entry(entry, self.stats, self._acks, self._reader, StopIteration)
            if item is not None:
                return item

    def next_with_metadata(self) -> tuple[dict[str, Any], Proxy[T] | T]:
        """Return the next object's metadata and a proxy of it (or the object, if inline).

        The pair is ``(metadata, proxy)``, metadata first, as in ProxyStore.

        Raises:
            StopIteration: If the stream has ended.
            ConsumerTimeoutError: If no message arrived within ``timeout``.
            ConsumerClosedError: If the consumer is closed.
            EventDecodeError: On a bad message with ``on_decode_error="raise"``.
            ConnectorNotAllowedError: If the event's connector kind is not allowed.
        """
        return self._next_item(resolve=False)

    def next_object_with_metadata(self) -> tuple[dict[str, Any], T]:
        """Return the next object's metadata and the object, resolved now.

        The pair is ``(metadata, object)``, metadata first, as in ProxyStore.
        The object is read with ``store.get(key, evict=...)``, evicting it
        when its event says so.

        Raises:
            StreamObjectMissingError: If the key no longer holds an object.
            StopIteration: If the stream has ended.
            ConsumerTimeoutError: If no message arrived within ``timeout``.
            ConsumerClosedError: If the consumer is closed.
            EventDecodeError: On a bad message with ``on_decode_error="raise"``.
            ConnectorNotAllowedError: If the event's connector kind is not allowed.
        """
        return self._next_item(resolve=True)

    def next_object(self) -> T:
        """Return the next object, resolved now, without its metadata.

        The same as ``next_object_with_metadata()[1]``.
        """
        return self._next_item(resolve=True)[1]  # type: ignore[no-any-return]

    def iter_with_metadata(self) -> Iterator[tuple[dict[str, Any], Proxy[T] | T]]:
        """Iterate over ``(metadata, proxy or inline object)`` until the stream ends."""
        yield from until_end(self.next_with_metadata)

    def iter_objects(self) -> Iterator[T]:
        """Iterate over resolved objects until the stream ends."""
        yield from until_end(self.next_object)

    def iter_objects_with_metadata(self) -> Iterator[tuple[dict[str, Any], T]]:
        """Iterate over ``(metadata, resolved object)`` until the stream ends."""
        yield from until_end(self.next_object_with_metadata)
