"""The consumer side of a stream: [`StreamConsumer`][proxyflow.stream.consumer.StreamConsumer]."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from proxyflow.proxy import Proxy
from proxyflow.serialize import SerializationError, get_serializer
from proxyflow.store import Store, get_or_create_store, get_store
from proxyflow.stream._closing import ClosesOnExit, close_stores
from proxyflow.stream._filtering import selection
from proxyflow.stream._prefetch import FAILED, OK, Entry, Prefetcher, PrefetchStopped
from proxyflow.stream._typing import T
from proxyflow.stream._wire import END_OF_STREAM, decode
from proxyflow.stream.events import decode_store_config
from proxyflow.stream.exceptions import (
    ConnectorNotAllowedError,
    ConsumerClosedError,
    ConsumerTimeoutError,
    EventDecodeError,
    StreamObjectMissingError,
)
from proxyflow.stream.protocols import Filter, MetadataPredicate, Subscriber

__all__ = ["ConsumerStats", "StreamConsumer"]

_MISSING = object()
_T = TypeVar("_T")

_JOIN_TIMEOUT = 10.0
"""Seconds `StreamConsumer.close` waits for the prefetch thread to end."""

# A decoded object event waiting to be handed out: (store config, or None when
# inline; [seq, key, evict, metadata] or [seq, serializer, payload, metadata]).
_Item = tuple["bytes | None", list[Any]]


@dataclass
class ConsumerStats:
    """Counters of a `StreamConsumer` (read them, do not write them).

    Attributes:
        events: Messages decoded successfully (a batch counts once,
            end-of-stream events count too).
        objects: Objects (or proxies) handed to the caller.
        skipped_bad_messages: Messages skipped because they could not be
            decoded (only with ``on_decode_error="skip"``).
        filtered: Objects dropped by the consumer's filter.
    """

    events: int = 0
    objects: int = 0
    skipped_bad_messages: int = 0
    filtered: int = 0


class StreamConsumer(ClosesOnExit, Generic[T]):
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

    Future seams (not implemented): acknowledging events to durable brokers
    (events carry the producer id and sequence number for a later
    ``Subscriber.ack``) and detecting gaps in sequence numbers.

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
        TypeError: If both ``keep`` and ``filter_`` are given.

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
        if isinstance(producers_per_topic, int):
            counts: dict[str, int] = {}
            default_count = producers_per_topic
        else:
            counts = dict(producers_per_topic)
            default_count = 1
        if default_count < 1 or any(n < 1 for n in counts.values()):
            raise ValueError("producers_per_topic counts must be >= 1")
        self._subscriber = subscriber
        self._predicate = chosen.predicate
        self._keeps = chosen.keeps
        self._timeout = timeout
        if isinstance(topics, str):
            topics = (topics,)
        self._topics = tuple(subscriber.topics if topics is None else topics)
        self._counts = counts
        self._default_count = default_count
        self._allowed = None if allowed_connectors is None else frozenset(allowed_connectors)
        self._overrides = dict(store_overrides or {})
        self._skip_bad = on_decode_error == "skip"
        self._ended: dict[str, set[bytes]] = {}
        self._pending: deque[_Item] = deque()
        self._stores: dict[bytes, Store] = {}
        self._own_stores: dict[int, Store] = {}
        self._done = False
        self._closed = False
        self._lock = threading.Lock()
        self._close_lock = threading.Lock()
        self._prefetcher = (
            Prefetcher(prefetch, self._fill, "proxyflow-consumer-prefetch") if prefetch else None
        )
        self._probed = 0  # messages the current prefetch fill took without waiting
        self._backoff = 0  # fills whose probes are skipped after a probe found nothing
        self._skip_probes = 0
        self.stats = ConsumerStats()
        """Counters of decoded events, objects, skipped and filtered messages."""

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
        return (
            self._done
            and not self._pending
            and (self._prefetcher is None or not self._prefetcher.waiting)
        )

    def _store(self, config_bytes: bytes) -> Store:
        store = self._stores.get(config_bytes)
        if store is not None:
            return store
        config = decode_store_config(config_bytes)
        store = self._overrides.get(config.name)
        if store is None:
            if self._allowed is not None and config.connector not in self._allowed:
                raise ConnectorNotAllowedError(
                    f"store {config.name!r} uses connector {config.connector!r}, "
                    f"not in allowed_connectors {sorted(self._allowed)}"
                )
            existing = get_store(config.name)
            store = get_or_create_store(config)
            if store is not existing:
                # Built by this consumer: it may close it. A store that was
                # already registered (say, a producer's in this process) is not ours.
                self._own_stores.setdefault(id(store), store)
        self._stores[config_bytes] = store
        return store

    def _end_of_stream(self, topic: str, producer_id: bytes) -> None:
        producers = self._ended.setdefault(topic, set())
        producers.add(producer_id)
        if self._topics:
            self._done = all(
                len(self._ended.get(t, ())) >= self._counts.get(t, self._default_count)
                for t in self._topics
            )
        else:
            self._done = len(producers) >= self._counts.get(topic, self._default_count)

    def _receive(self, *, probe: bool = False) -> bool:
        """Read and decode one message into ``_pending`` (or mark the end).

        With ``probe``, only take a message that already arrived and return
        ``False`` when there is none.
        """
        try:
            message = self._subscriber.next_message(0 if probe else self._timeout)
        except EOFError:
            self._done = True
            return True
        except TimeoutError as exc:
            if probe:
                return False
            raise ConsumerTimeoutError(
                f"no message arrived within {self._timeout} seconds"
            ) from exc
        try:
            code, producer_id, topic, config, items, _ = decode(message)
        except EventDecodeError:
            if not self._skip_bad:
                raise
            self.stats.skipped_bad_messages += 1
            return True
        self.stats.events += 1
        if code == END_OF_STREAM:
            self._end_of_stream(topic, producer_id)
        elif len(items) == 1:
            self._pending.append((config, items[0]))
        else:
            self._pending.extend([(config, item) for item in items])
        return True

    def _next(
        self, *, probe: bool = False, receive: bool = True
    ) -> tuple[bytes | None, list[Any], Any] | None:
        """Return the next kept object event with its store, or its object when inline.

        Returns ``(store config or None, item, store or inline object)``. With
        ``probe``, return ``None`` instead of waiting for a message (or
        reporting the end of the stream), and take messages from the
        subscriber only if ``receive`` (else only decoded events still pending).
        """
        if self._closed:
            raise ConsumerClosedError("the consumer is closed")
        pending = self._pending
        while True:
            if not pending:
                if self._done:
                    if probe:
                        return None
                    raise StopIteration
                if probe and not receive:
                    return None
                if not self._receive(probe=probe):
                    return None
                if probe:
                    self._probed += 1
                continue
            config, item = pending.popleft()
            predicate = self._predicate
            keep = predicate is None or (
                bool(predicate(item[3])) if self._keeps else not predicate(item[3])
            )
            if not keep:
                self.stats.filtered += 1
            if config is not None:
                if not keep and not item[2]:
                    continue
                target = self._stores.get(config)
                if target is None:
                    try:
                        target = self._store(config)
                    except EventDecodeError:
                        if not self._skip_bad:
                            raise
                        self.stats.skipped_bad_messages += 1
                        continue
                if not keep:
                    target.evict(item[1])
                    continue
            else:
                if not keep:
                    continue
                try:
                    target = self._inline_object(item[1], item[2])
                except EventDecodeError:
                    if not self._skip_bad:
                        raise
                    self.stats.skipped_bad_messages += 1
                    continue
            return config, item, target

    @staticmethod
    def _inline_object(serializer: str, payload: bytes | memoryview) -> Any:
        try:
            _, deserializer = get_serializer(serializer)
            obj = deserializer(payload)
        except Exception as exc:
            raise EventDecodeError(
                f"cannot deserialize inline object (serializer {serializer!r}): {exc}"
            ) from exc
        if type(obj) is memoryview and type(payload) is memoryview and obj.obj is payload.obj:
            # Binary data handed back as a view of the message itself: that view
            # is how a large message was decoded, not what was sent. One copy.
            return obj.tobytes()
        return obj

    @staticmethod
    def _resolve(store: Store, key: Any, evict: bool) -> Any:
        value = store.get(key, default=_MISSING, evict=evict)
        if value is _MISSING:
            raise StreamObjectMissingError(key, store.name)
        return value

    def _next_item(self, *, resolve: bool) -> tuple[dict[str, Any], Any]:
        """Return the next kept object's metadata and the object, as a proxy or resolved now."""
        prefetcher = self._prefetcher
        if prefetcher is not None and (resolve or prefetcher.started):
            return self._take(prefetcher)
        with self._lock:
            found = self._next()
            self.stats.objects += 1
        assert found is not None
        config, item, target = found
        if config is None:
            return item[3], target
        if resolve:
            return item[3], self._resolve(target, item[1], item[2])
        return item[3], target.proxy_from_key(item[1], evict=item[2])

    # -- prefetch ---------------------------------------------------------------------------

    def _take(self, prefetcher: Prefetcher) -> tuple[dict[str, Any], Any]:
        """Return the next prefetched object, or raise the error recorded in its place."""
        if self._closed:
            raise ConsumerClosedError("the consumer is closed")
        try:
            kind, value, metadata = prefetcher.take()
        except PrefetchStopped:
            raise StopIteration from None  # closed while waiting: the stream ended
        if kind == FAILED:
            if isinstance(value, ConsumerClosedError):
                raise StopIteration  # closed while this call waited: the stream ended
            raise value
        self.stats.objects += 1
        return metadata, value

    def _fill(self, room: int) -> tuple[list[Entry], bool]:
        """Wait for the next object, add those already waiting (up to ``room``), resolve them.

        Runs in the prefetch thread. Returns the entries in stream order and
        whether the thread should stop after them (an error among them).
        """
        error: BaseException | None = None
        with self._lock:
            first = self._next()
            assert first is not None
            batch = [first]
            # Asking the subscriber for a message that has not arrived costs an
            # exception and a system call: after a probe found nothing, skip
            # the next 1, 2, 4 ... 16 fills' probes (decoded events are still batched).
            receive = self._skip_probes == 0
            self._skip_probes = max(0, self._skip_probes - 1)
            self._probed = 0
            while len(batch) < room:
                try:
                    found = self._next(probe=True, receive=receive)
                except Exception as exc:  # raised in its turn, after the batch
                    error = exc
                    break
                if found is None:
                    break
                batch.append(found)
            if receive and room > 1:
                self._backoff = 0 if self._probed else min(16, 2 * self._backoff or 1)
                self._skip_probes = self._backoff
        entries = self._resolve_batch(batch)
        stop = error is not None or any(kind == FAILED for kind, _, _ in entries)
        if error is not None:
            entries.append((FAILED, error, None))
        return entries, stop

    def _resolve_batch(self, batch: list[tuple[bytes | None, list[Any], Any]]) -> list[Entry]:
        """Resolve objects in order; consecutive ones of a store share one ``get_batch``."""
        entries: list[Entry] = []
        i = 0
        while i < len(batch):
            config, item, target = batch[i]
            if config is None:
                entries.append((OK, target, item[3]))
                i += 1
                continue
            evict = item[2]
            j = i + 1
            while j < len(batch) and batch[j][2] is target and batch[j][1][2] == evict:
                j += 1
            group = [entry[1] for entry in batch[i:j]]
            i = j
            values: list[Any] | None = None
            if len(group) > 1:
                try:
                    values = target.get_batch(
                        [g[1] for g in group], default=_MISSING, evict=evict, return_exceptions=True
                    )
                except Exception:
                    values = None  # nothing was read: resolve one by one, each with its error
            for k, g in enumerate(group):
                if values is None:
                    try:
                        entries.append((OK, self._resolve(target, g[1], evict), g[3]))
                    except Exception as exc:
                        entries.append((FAILED, exc, None))
                elif values[k] is _MISSING:
                    entries.append((FAILED, StreamObjectMissingError(g[1], target.name), None))
                elif isinstance(values[k], SerializationError):
                    entries.append((FAILED, values[k], None))
                else:
                    entries.append((OK, values[k], g[3]))
        return entries

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

        See [`next_with_metadata`][proxyflow.stream.consumer.StreamConsumer.next_with_metadata].
        """
        return self._next_item(resolve=False)[1]  # type: ignore[no-any-return]

    def next_object_with_metadata(self) -> tuple[dict[str, Any], T]:
        """Return the next object's metadata and the object, resolved now.

        The pair is ``(metadata, object)``, metadata first, as in ProxyStore.

        The object is read with ``store.get(key, evict=...)``, evicting it when
        its event says so.

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

    def __next__(self) -> Proxy[T] | T:
        return self._next_item(resolve=False)[1]  # type: ignore[no-any-return]

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
        try:
            if subscriber:
                self._subscriber.close()
        finally:
            if self._prefetcher is not None:
                # The thread notices the closed subscriber (EOFError) and ends.
                self._prefetcher.stop(_JOIN_TIMEOUT)
            if stores:
                with self._lock:
                    own = list(self._own_stores.values())
                    self._own_stores.clear()
                    self._pending.clear()
                close_stores(own)

    def __repr__(self) -> str:
        return f"StreamConsumer(topics={self._topics!r}, ended={self.ended}, closed={self._closed})"


def _until_end(take: Callable[[], _T]) -> Iterator[_T]:
    """Yield what ``take()`` returns until it raises `StopIteration`."""
    while True:
        try:
            item = take()
        except StopIteration:
            return
        yield item
