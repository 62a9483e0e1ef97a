"""The consumer side of a stream: [`StreamConsumer`][proxyflow.stream.consumer.StreamConsumer].

The consumer is a thin shell over one module per job: decoding events and
counting ends (``_reader``), finding stores (``_resolver``), selecting objects
(``_filtering``), rebuilding inline objects (``_inline``), the lock that lets
threads share a consumer (``_source``) and prefetching (``_readahead``,
``_prefetch``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any, Generic, Literal, TypeVar

from proxyflow.api import Closeable
from proxyflow.proxy import Proxy
from proxyflow.store import Store
from proxyflow.stream._filtering import selection
from proxyflow.stream._prefetch import Prefetcher, PrefetchStopped
from proxyflow.stream._readahead import ReadAhead
from proxyflow.stream._reader import EndOfStream, EventReader
from proxyflow.stream._resolver import StoreResolver, fetch
from proxyflow.stream._source import InlineObject, ObjectSource
from proxyflow.stream._stats import ConsumerStats
from proxyflow.stream._typing import T
from proxyflow.stream.exceptions import ConsumerClosedError
from proxyflow.stream.protocols import Filter, MetadataPredicate, Subscriber

__all__ = ["ConsumerStats", "StreamConsumer"]

_R = TypeVar("_R")

_JOIN_TIMEOUT = 10.0
"""Seconds `StreamConsumer.close` waits for the prefetch thread to end."""


class StreamConsumer(Closeable, Generic[T]):
    """Reads a stream: decodes events and yields proxies of the stored objects.

    Iterating yields, per object event, a [`Proxy`][proxyflow.proxy.Proxy] of
    the stored object (resolving it fetches the bytes from the store, and
    evicts them if the producer sent it with ``evict=True``), or the object
    itself for inline events. Objects of a batch come one by one, in order.
    [`next_object`][proxyflow.stream.consumer.StreamConsumer.next_object] and
    friends resolve at once instead.

    **Stores.** Each event carries its store's config, so one topic may mix
    objects from several stores (for example two producers with different
    stores). A store is looked up once per distinct config and cached: first
    ``store_overrides[config.name]``, else
    [`proxyflow.store.get_or_create_store`][proxyflow.store.get_or_create_store],
    which returns the store registered under that name in this process or builds
    one through the connector entry points. Before building, the connector kind
    is checked against ``allowed_connectors``
    ([`ConnectorNotAllowedError`][proxyflow.stream.exceptions.ConnectorNotAllowedError]);
    a kind that is not installed raises
    [`proxyflow.store.UnknownConnectorError`][proxyflow.store.UnknownConnectorError]
    unchanged (it names the distribution to install), and so do the other store
    errors of [`get_or_create_store`][proxyflow.store.get_or_create_store] (for
    example [`StoreExistsError`][proxyflow.store.StoreExistsError] when another
    store with the same name but a different config is registered here; pass it
    in ``store_overrides`` to use it anyway). These errors leave the object in
    its store.

    **End of stream.** The stream ends when every topic in ``topics`` has
    received end-of-stream events from ``producers_per_topic`` distinct
    producer ids (an ``int`` for all topics, or a mapping topic -> count,
    missing topics counting 1). With no topics (neither given nor reported by
    the subscriber) the stream ends when the first topic ends. After the end,
    ``__next__`` and the ``next*`` methods raise `StopIteration`.
    A closed subscriber (``EOFError``) also ends the stream.

    **Filtering.** ``keep=predicate`` hands out only the objects whose
    metadata the predicate is true for; ``filter_=predicate`` drops them
    instead, as ProxyStore's ``filter_`` does (True drops). Give one or
    neither (see [`proxyflow.stream.filters`][proxyflow.stream.filters]). A
    dropped stored object is evicted from its store when its event asked for
    eviction, so it does not linger.

    **Types.** The class is generic in the type of the objects:
    ``StreamConsumer[str](...)`` makes ``next()`` a ``Proxy[str] | str`` and
    ``next_object()`` a ``str`` for a type checker. The ``*_with_metadata``
    forms return ``(metadata, item)`` pairs, metadata first, as in ProxyStore.

    **Inline objects** come back as the type that was sent: ``bytes`` sent
    inline arrive as ``bytes`` at any size (a large payload is decoded without
    a copy, then copied once into the ``bytes`` returned).

    **Bad messages.** A message that is not a valid event raises
    [`EventDecodeError`][proxyflow.stream.exceptions.EventDecodeError] (default,
    ``on_decode_error="raise"``) or, with ``"skip"``, is skipped and counted
    in ``stats.skipped_bad_messages``.

    **Threads.** Reading events is serialized by an internal lock, so several
    threads may share a consumer; each object goes to exactly one caller.
    [`close`][proxyflow.stream.consumer.StreamConsumer.close] may be called from any thread.

    **Prefetch.** With ``prefetch=k`` (``k > 0``), the first call of a
    *resolving* method
    ([`next_object`][proxyflow.stream.consumer.StreamConsumer.next_object],
    [`iter_objects`][proxyflow.stream.consumer.StreamConsumer.iter_objects] and
    their ``_with_metadata`` variants) starts a daemon thread that reads the
    next events and resolves their objects while the caller works on the current
    one, keeping up to ``k`` objects ready. When several events of one store are
    already waiting (in the subscriber or in a batch), their objects are read
    with **one** ``store.get_batch(keys, evict=...)`` call, which saves round
    trips on networked stores. Order is kept, and everything that can go wrong
    in the background (a missing object, a bad message, a timeout, the end of
    the stream) is raised at the caller in its place in the stream; the thread
    stops after an error and restarts on the next call, so it never runs ahead
    of one. Plain iteration,
    [`next`][proxyflow.stream.consumer.StreamConsumer.next] and
    [`next_with_metadata`][proxyflow.stream.consumer.StreamConsumer.next_with_metadata]
    never start the thread: they yield unresolved proxies, so a dispatcher that
    forwards proxies never pulls data. Once the thread runs, however, every call
    is served from it (``next()`` then returns objects already resolved).
    Objects resolved ahead are **lost** if the consumer is closed before they
    are taken (their events asked for eviction, so they are gone from the
    store): use prefetch when the consumer reads the stream to its end.
    [`close`][proxyflow.stream.consumer.StreamConsumer.close] stops the thread
    (it waits for it to notice the closed subscriber).

    Future seams (not implemented): acknowledging the deliveries of an
    [`AckingSubscriber`][proxyflow.api.protocols.AckingSubscriber], detecting
    gaps in each producer's sequence numbers and a trust policy for the stores
    events point at. Every decoded object keeps its producer id, topic and
    sequence number for them.

    Args:
        subscriber: The broker subscriber to read messages from.
        filter_: Metadata predicate; **True drops** the object (ProxyStore's meaning).
        keep: Metadata predicate; True keeps the object. Not with ``filter_``.
        timeout: Seconds to wait for each message; ``None`` waits forever.
            When it expires,
            [`ConsumerTimeoutError`][proxyflow.stream.exceptions.ConsumerTimeoutError]
            (a ``TimeoutError``) is raised; the consumer stays usable.
        topics: The topics whose end ends the stream; default ``subscriber.topics``.
        producers_per_topic: End-of-stream events (from distinct producers)
            that end a topic.
        allowed_connectors: Connector kinds this consumer may build stores
            for; ``None`` allows every installed kind. Overrides are always allowed.
        store_overrides: Store name -> store to use instead of rebuilding one.
        on_decode_error: ``"raise"`` or ``"skip"`` bad messages.
        prefetch: Objects the resolving methods keep resolved ahead in a
            background thread (``0``: none, everything happens in the caller).

    Raises:
        ValueError: If ``producers_per_topic`` has a count below 1,
            ``on_decode_error`` is unknown or ``prefetch`` is negative.
        TypeError: If both ``keep`` and ``filter_`` are given, or ``subscriber``
            has no ``next_message`` method.

    Example:
        ```python
        import queue
        from proxyflow.shims.queue import QueueSubscriber
        from proxyflow.stream import StreamConsumer

        q: queue.Queue[bytes] = queue.Queue()  # filled by a StreamProducer
        with StreamConsumer(QueueSubscriber(q, topics=["numbers"]), timeout=10) as consumer:
            for metadata, proxy in consumer.iter_with_metadata():
                print(metadata["index"], proxy + 1)
        ```
    """

    def __init__(
        self,
        subscriber: Subscriber,
        *,
        filter_: Filter | None = None,
        keep: MetadataPredicate | None = None,
        timeout: float | None = None,
        topics: Sequence[str] | None = None,
        producers_per_topic: int | Mapping[str, int] = 1,
        allowed_connectors: Collection[str] | None = None,
        store_overrides: Mapping[str, Store] | None = None,
        on_decode_error: Literal["raise", "skip"] = "raise",
        prefetch: int = 0,
    ) -> None:
        chosen = selection(keep, filter_, "StreamConsumer")
        if prefetch < 0:
            raise ValueError(f"prefetch must be >= 0, got {prefetch!r}")
        if on_decode_error not in ("raise", "skip"):
            raise ValueError(f"on_decode_error must be 'raise' or 'skip', got {on_decode_error!r}")
        if not callable(getattr(subscriber, "next_message", None)):
            raise TypeError(
                "subscriber must provide next_message(timeout) and close() (the "
                f"proxyflow.api.Subscriber protocol); {type(subscriber).__name__} does not"
            )
        if isinstance(topics, str):
            topics = (topics,)
        self._topics = tuple(getattr(subscriber, "topics", ()) if topics is None else topics)
        self._subscriber = subscriber
        self.stats = ConsumerStats()
        """Counters of decoded events, objects, skipped and filtered messages."""
        self._reader = EventReader(
            subscriber,
            timeout,
            EndOfStream(self._topics, producers_per_topic),
            skip_bad=on_decode_error == "skip",
            stats=self.stats,
        )
        resolver = StoreResolver(allowed_connectors, store_overrides)
        self._source = ObjectSource(self._reader, resolver, chosen, self.stats)
        self._readahead = ReadAhead(self._source, self._reader)
        self._prefetcher = (
            Prefetcher(prefetch, self._readahead.fill, "proxyflow-consumer-prefetch")
            if prefetch
            else None
        )
        self._close_lock = threading.Lock()
        self._closed = False

    @property
    def subscriber(self) -> Subscriber:
        """The broker subscriber this consumer reads events from."""
        return self._subscriber

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics whose end ends this stream."""
        return self._topics

    @property
    def ended(self) -> bool:
        """Whether the stream has ended (no more objects will be yielded)."""
        reader = self._reader
        return (
            reader.ending.done
            and not reader.pending
            and (self._prefetcher is None or not self._prefetcher.waiting)
        )

    def _next_item(self, *, resolve: bool) -> tuple[dict[str, Any], Any]:
        """Return the next kept object's metadata and the object, as a proxy or resolved now."""
        prefetcher = self._prefetcher
        if prefetcher is not None and (resolve or prefetcher.started):
            return self._take(prefetcher)
        source = self._source
        with source.lock:
            kept = source.next()
            store = source.store
            self.stats.objects += 1
        if type(kept) is InlineObject:
            return kept.item.metadata, kept.value
        assert store is not None
        if resolve:
            return kept.metadata, fetch(store, kept)  # type: ignore[union-attr,arg-type]
        return kept.metadata, store.proxy_from_key(kept.key, evict=kept.evict)  # type: ignore[union-attr]

    def _take(self, prefetcher: Prefetcher) -> tuple[dict[str, Any], Any]:
        """Return the next prefetched object, or raise the error recorded in its place."""
        if self._closed:
            raise ConsumerClosedError("the consumer is closed")
        try:
            entry = prefetcher.take()
        except PrefetchStopped:
            raise StopIteration from None  # closed while waiting: the stream ended
        if isinstance(entry, BaseException):
            if isinstance(entry, ConsumerClosedError):
                raise StopIteration  # closed while this call waited: the stream ended
            raise entry
        self.stats.objects += 1
        return entry

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

    def next(self) -> Proxy[T] | T:
        """Return the next proxy (or inline object), without its metadata.

        Iterating over the consumer calls it. See
        [`next_with_metadata`][proxyflow.stream.consumer.StreamConsumer.next_with_metadata].
        """
        # The same as _next_item(resolve=False)[1], without the pair: the hot path.
        prefetcher = self._prefetcher
        if prefetcher is not None and prefetcher.started:
            return self._take(prefetcher)[1]  # type: ignore[no-any-return]
        source = self._source
        with source.lock:
            kept = source.next()
            store = source.store
            self.stats.objects += 1
        if type(kept) is InlineObject:
            return kept.value  # type: ignore[no-any-return]
        return store.proxy_from_key(kept.key, evict=kept.evict)  # type: ignore[union-attr]

    __next__ = next

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
        yield from _until_end(self.next_with_metadata)

    def iter_objects(self) -> Iterator[T]:
        """Iterate over resolved objects until the stream ends."""
        yield from _until_end(self.next_object)

    def iter_objects_with_metadata(self) -> Iterator[tuple[dict[str, Any], T]]:
        """Iterate over ``(metadata, resolved object)`` until the stream ends."""
        yield from _until_end(self.next_object_with_metadata)

    def __iter__(self) -> StreamConsumer[T]:
        return self

    def close(self, *, stores: bool = True, subscriber: bool = True) -> None:
        """Release the subscriber and the stores this consumer built.

        Only stores that this consumer built from event configs are closed;
        stores from ``store_overrides`` and stores that were already
        registered in this process (a producer's, for example) are left
        open. Closing a store releases its connections and never deletes
        stored objects, so proxies already handed out still resolve (they
        rebuild their store on demand). May be called from another thread
        while one is blocked in [`next`][proxyflow.stream.consumer.StreamConsumer.next]:
        that call then ends the stream once the subscriber notices the close.
        Calling ``close`` again does nothing; other calls then raise
        [`ConsumerClosedError`][proxyflow.stream.exceptions.ConsumerClosedError].

        Args:
            stores: Whether to close the stores this consumer built.
            subscriber: Whether to close the subscriber.
        """
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self._source.closed = True
        try:
            if subscriber:
                self._subscriber.close()
        finally:
            if self._prefetcher is not None:
                # The thread notices the closed subscriber (EOFError) and ends.
                self._prefetcher.stop(_JOIN_TIMEOUT)
            self._source.release(stores=stores)

    def __repr__(self) -> str:
        return f"StreamConsumer(topics={self._topics!r}, ended={self.ended}, closed={self._closed})"


def _until_end(take: Callable[[], _R]) -> Iterator[_R]:
    """Yield what ``take()`` returns until it raises `StopIteration`."""
    while True:
        try:
            item = take()
        except StopIteration:
            return
        yield item
