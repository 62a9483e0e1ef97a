"""The consumer side of a stream: :class:`StreamConsumer`."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from proxyflow.serialize import get_serializer
from proxyflow.store import Store, get_or_create_store, get_store
from proxyflow.stream._closing import ClosesOnExit, close_stores
from proxyflow.stream.events import (
    BatchEvent,
    EndOfStreamEvent,
    NewObjectEvent,
    NewObjectKeyEvent,
    ObjectEvent,
    decode_event,
    decode_store_config,
)
from proxyflow.stream.exceptions import (
    ConnectorNotAllowedError,
    ConsumerClosedError,
    ConsumerTimeoutError,
    EventDecodeError,
    StreamObjectMissingError,
)
from proxyflow.stream.filters import Filter
from proxyflow.stream.protocols import Subscriber

__all__ = ["ConsumerStats", "StreamConsumer"]

_MISSING = object()
_T = TypeVar("_T")


@dataclass
class ConsumerStats:
    """Counters of a :class:`StreamConsumer` (read them, do not write them).

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


class StreamConsumer(ClosesOnExit):
    """Reads a stream: decodes events and yields proxies of the stored objects.

    Iterating yields, per object event, a :class:`~proxyflow.proxy.Proxy` of
    the stored object (resolving it fetches the bytes from the store, and
    evicts them if the producer sent it with ``evict=True``), or the object
    itself for inline events. Objects of a batch come one by one, in order.
    :meth:`next_object` and friends resolve at once instead.

    **Stores.** Each event carries its store's config, so one topic may mix
    objects from several stores (for example two producers with different
    stores). A store is looked up once per distinct config and cached: first
    ``store_overrides[config.name]``, else
    :func:`proxyflow.store.get_or_create_store`, which returns the store
    registered under that name in this process or builds one through the
    connector entry points. Before building, the connector kind is checked
    against ``allowed_connectors`` (:class:`~proxyflow.stream.exceptions.ConnectorNotAllowedError`);
    a kind that is not installed raises
    :class:`proxyflow.store.UnknownConnectorError` unchanged (it names the
    distribution to install), and so do the other store errors of
    :func:`~proxyflow.store.get_or_create_store` (for example
    :class:`~proxyflow.store.StoreExistsError` when another store with the
    same name but a different config is registered here; pass it in
    ``store_overrides`` to use it anyway). These errors leave the object in
    its store.

    **End of stream.** The stream ends when every topic in ``topics`` has
    received end-of-stream events from ``producers_per_topic`` distinct
    producer ids (an ``int`` for all topics, or a mapping topic -> count,
    missing topics counting 1). With no topics (neither given nor reported by
    the subscriber) the stream ends when the first topic ends. After the end,
    ``__next__`` and the ``next*`` methods raise :class:`StopIteration`.
    A closed subscriber (``EOFError``) also ends the stream.

    **Filtering.** ``filter_(metadata)`` returns **True to KEEP** the object
    (see :mod:`proxyflow.stream.filters`). A dropped stored object is evicted
    from its store when its event asked for eviction, so it does not linger.

    **Bad messages.** A message that is not a valid event raises
    :class:`~proxyflow.stream.exceptions.EventDecodeError` (default,
    ``on_decode_error="raise"``) or, with ``"skip"``, is skipped and counted
    in ``stats.skipped_bad_messages``.

    **Threads.** Reading events is serialized by an internal lock, so several
    threads may share a consumer; each object goes to exactly one caller.
    :meth:`close` may be called from any thread.

    Future seams (not implemented): acknowledging events to durable brokers
    (events carry the producer id and sequence number for a later
    ``Subscriber.ack``), detecting gaps in sequence numbers, and prefetching
    objects of upcoming events.

    Args:
        subscriber: The broker subscriber to read messages from.
        filter_: Metadata predicate; True keeps the object.
        timeout: Seconds to wait for each message; ``None`` waits forever.
            When it expires, :class:`~proxyflow.stream.exceptions.ConsumerTimeoutError`
            (a ``TimeoutError``) is raised; the consumer stays usable.
        topics: The topics whose end ends the stream; default ``subscriber.topics``.
        producers_per_topic: End-of-stream events (from distinct producers)
            that end a topic.
        allowed_connectors: Connector kinds this consumer may build stores
            for; ``None`` allows every installed kind. Overrides are always allowed.
        store_overrides: Store name -> store to use instead of rebuilding one.
        on_decode_error: ``"raise"`` or ``"skip"`` bad messages.

    Raises:
        ValueError: If ``producers_per_topic`` has a count below 1 or
            ``on_decode_error`` is unknown.

    Example:
        ```python
        import queue
        from proxyflow.shims.queue import QueueSubscriber
        from proxyflow.stream import StreamConsumer

        q: queue.Queue[bytes] = queue.Queue()  # filled by a StreamProducer
        with StreamConsumer(QueueSubscriber(q, topics=["numbers"]), timeout=10) as consumer:
            for proxy, metadata in consumer.iter_with_metadata():
                print(metadata["index"], proxy + 1)
        ```
    """

    def __init__(
        self,
        subscriber: Subscriber,
        *,
        filter_: Filter | None = None,
        timeout: float | None = None,
        topics: Sequence[str] | None = None,
        producers_per_topic: int | Mapping[str, int] = 1,
        allowed_connectors: Collection[str] | None = None,
        store_overrides: Mapping[str, Store] | None = None,
        on_decode_error: Literal["raise", "skip"] = "raise",
    ) -> None:
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
        self._filter = filter_
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
        self._pending: deque[ObjectEvent] = deque()
        self._stores: dict[bytes, Store] = {}
        self._own_stores: dict[int, Store] = {}
        self._done = False
        self._closed = False
        self._lock = threading.Lock()
        self._close_lock = threading.Lock()
        self.stats = ConsumerStats()
        """Counters of decoded events, objects, skipped and filtered messages."""

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics whose end ends this stream."""
        return self._topics

    @property
    def ended(self) -> bool:
        """Whether the stream has ended (no more objects will be yielded)."""
        return self._done and not self._pending

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

    def _end_of_stream(self, event: EndOfStreamEvent) -> None:
        producers = self._ended.setdefault(event.topic, set())
        producers.add(event.producer_id)
        if self._topics:
            self._done = all(
                len(self._ended.get(t, ())) >= self._counts.get(t, self._default_count)
                for t in self._topics
            )
        else:
            self._done = len(producers) >= self._counts.get(event.topic, self._default_count)

    def _receive(self) -> None:
        """Read and decode one message into ``_pending`` (or mark the end)."""
        try:
            message = self._subscriber.next_message(self._timeout)
        except EOFError:
            self._done = True
            return
        except TimeoutError as exc:
            raise ConsumerTimeoutError(
                f"no message arrived within {self._timeout} seconds"
            ) from exc
        try:
            event = decode_event(message)
        except EventDecodeError:
            if not self._skip_bad:
                raise
            self.stats.skipped_bad_messages += 1
            return
        self.stats.events += 1
        if isinstance(event, BatchEvent):
            self._pending.extend(event.events)
        elif isinstance(event, EndOfStreamEvent):
            self._end_of_stream(event)
        else:
            self._pending.append(event)

    def _next(self) -> tuple[ObjectEvent, Any]:
        """Return the next kept event with its store, or its object when inline."""
        if self._closed:
            raise ConsumerClosedError("the consumer is closed")
        while True:
            if not self._pending:
                if self._done:
                    raise StopIteration
                self._receive()
                continue
            event = self._pending.popleft()
            keep = self._filter is None or self._filter(event.metadata)
            if not keep:
                self.stats.filtered += 1
            if isinstance(event, NewObjectKeyEvent):
                if not keep and not event.evict:
                    continue
                try:
                    target: Any = self._store(event.store_config)
                except EventDecodeError:
                    if not self._skip_bad:
                        raise
                    self.stats.skipped_bad_messages += 1
                    continue
                if not keep:
                    target.evict(event.key)
                    continue
            else:
                if not keep:
                    continue
                try:
                    target = self._inline_object(event)
                except EventDecodeError:
                    if not self._skip_bad:
                        raise
                    self.stats.skipped_bad_messages += 1
                    continue
            self.stats.objects += 1
            return event, target

    @staticmethod
    def _inline_object(event: NewObjectEvent) -> Any:
        try:
            _, deserializer = get_serializer(event.serializer)
            return deserializer(event.payload)
        except Exception as exc:
            raise EventDecodeError(
                f"cannot deserialize inline object (serializer {event.serializer!r}): {exc}"
            ) from exc

    @staticmethod
    def _resolve(store: Store, event: NewObjectKeyEvent) -> Any:
        value = store.get(event.key, default=_MISSING, evict=event.evict)
        if value is _MISSING:
            raise StreamObjectMissingError(event.key, store.name)
        return value

    def _next_item(self, *, resolve: bool) -> tuple[Any, dict[str, Any]]:
        """Return the next kept object as a proxy, or resolved now, with its metadata."""
        with self._lock:
            event, target = self._next()
        if not isinstance(event, NewObjectKeyEvent):
            return target, event.metadata
        if resolve:
            return self._resolve(target, event), event.metadata
        return target.proxy_from_key(event.key, evict=event.evict), event.metadata

    def next_with_metadata(self) -> tuple[Any, dict[str, Any]]:
        """Return the next proxy (or inline object) and its metadata.

        Raises:
            StopIteration: If the stream has ended.
            ConsumerTimeoutError: If no message arrived within ``timeout``.
            ConsumerClosedError: If the consumer is closed.
            EventDecodeError: On a bad message with ``on_decode_error="raise"``.
            ConnectorNotAllowedError: If the event's connector kind is not allowed.
        """
        return self._next_item(resolve=False)

    def next(self) -> Any:
        """Return the next proxy (or inline object); see :meth:`next_with_metadata`."""
        return self.next_with_metadata()[0]

    def next_object_with_metadata(self) -> tuple[Any, dict[str, Any]]:
        """Return the next object, resolved now, and its metadata.

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

    def next_object(self) -> Any:
        """Return the next object, resolved now; see :meth:`next_object_with_metadata`."""
        return self.next_object_with_metadata()[0]

    def iter_with_metadata(self) -> Iterator[tuple[Any, dict[str, Any]]]:
        """Iterate over ``(proxy or inline object, metadata)`` until the stream ends."""
        yield from _until_end(self.next_with_metadata)

    def iter_objects(self) -> Iterator[Any]:
        """Iterate over resolved objects until the stream ends."""
        yield from _until_end(self.next_object)

    def iter_objects_with_metadata(self) -> Iterator[tuple[Any, dict[str, Any]]]:
        """Iterate over ``(resolved object, metadata)`` until the stream ends."""
        yield from _until_end(self.next_object_with_metadata)

    def __iter__(self) -> StreamConsumer:
        return self

    def __next__(self) -> Any:
        return self.next()

    def close(self, *, stores: bool = True, subscriber: bool = True) -> None:
        """Release the subscriber and the stores this consumer built.

        Only stores that this consumer built from event configs are closed;
        stores from ``store_overrides`` and stores that were already
        registered in this process (a producer's, for example) are left
        open. Closing a store releases its connections and never deletes
        stored objects, so proxies already handed out still resolve (they
        rebuild their store on demand). May be called from another thread
        while one is blocked in :meth:`next`: that call then ends the stream
        once the subscriber notices the close. Calling ``close`` again does
        nothing; other calls then raise
        :class:`~proxyflow.stream.exceptions.ConsumerClosedError`.

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
            if stores:
                with self._lock:
                    own = list(self._own_stores.values())
                    self._own_stores.clear()
                    self._pending.clear()
                close_stores(own)

    def __repr__(self) -> str:
        return f"StreamConsumer(topics={self._topics!r}, ended={self.ended}, closed={self._closed})"


def _until_end(take: Callable[[], _T]) -> Iterator[_T]:
    """Yield what ``take()`` returns until it raises :class:`StopIteration`."""
    while True:
        try:
            item = take()
        except StopIteration:
            return
        yield item
