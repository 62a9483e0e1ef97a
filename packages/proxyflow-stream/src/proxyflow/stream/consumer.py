"""The consumer side of a stream: [`StreamConsumer`][proxyflow.stream.consumer.StreamConsumer].

The consumer is a thin shell over one module per job: checking its arguments
and wiring the pieces (``_consumer_wiring``, shared with the asyncio
consumer), decoding events and counting ends (``_reader``), finding stores
(``_resolver``), selecting objects (``_filtering``), rebuilding inline objects
(``_inline``), the lock that lets threads share a consumer (``_source``),
handing out the next item (``_reading``), prefetching (``_readahead``,
``_prefetch``), acknowledgements (``_acks``, ``_acking``) and closing
(``_consumer_closing``).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Generic, Literal

from proxyflow.api import Closeable
from proxyflow.proxy import Proxy
from proxyflow.store import Store
from proxyflow.stream._ack_types import AckMode
from proxyflow.stream._acks import AckTracker
from proxyflow.stream._consumer_closing import Closing
from proxyflow.stream._consumer_wiring import (
    check_options,
    check_subscriber,
    event_reader,
    group_drain,
    require_acking,
    store_resolver,
    stream_topics,
)
from proxyflow.stream._draining import end_wait
from proxyflow.stream._filtering import selection
from proxyflow.stream._gaps import GapPolicy
from proxyflow.stream._prefetch import Prefetcher
from proxyflow.stream._readahead import ReadAhead
from proxyflow.stream._reader import EndOfStream
from proxyflow.stream._reading import Reading
from proxyflow.stream._signing import signing_key as _mac_key
from proxyflow.stream._source import InlineObject, ObjectSource
from proxyflow.stream._stats import ConsumerStats
from proxyflow.stream._typing import T
from proxyflow.stream.protocols import Filter, MetadataPredicate, Subscriber
from proxyflow.stream.trust import TrustedLocation

__all__ = ["ConsumerStats", "StreamConsumer"]


class StreamConsumer(Reading[T], Closing, Closeable, Generic[T]):
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

    **Work-sharing brokers.** When several consumers share a topic on a
    broker that hands each message to one of them (a Redis list, a queue
    shared by threads or made by ``shared_queue``, a Redis stream group: the
    subscriber has a ``roster(topic)`` method), an end-of-stream message
    reaches one consumer only. Such a consumer ends a topic when the
    broker's roster says every producer that joined it has left (at least
    ``producers_per_topic`` of them) and no message is left to read, which
    it checks whenever the subscriber is idle for a moment. Producers join
    and leave by themselves; the default arguments are safe.

    **Lost and repeated events.** On a fan-out subscriber (every consumer
    sees every event), the consumer follows each producer's sequence numbers
    per topic, up to its end-of-stream event (which carries the number of
    events before it): missing numbers count in ``stats.lost`` and are
    reported as ``on_gap`` says; a number seen already counts in
    ``stats.duplicates`` and its event is dropped. A consumer that starts
    after a producer counts the events it missed as lost. On a work-sharing
    subscriber each consumer sees a share of the numbers by design, so they
    are not tracked there: use a broker that keeps messages until they are
    handled.

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

    **Trust.** An event names the store of its object; the consumer uses it
    only as [`proxyflow.stream.trust`][proxyflow.stream.trust] allows: client
    settings (timeouts, password variable) never come from the event, and a
    location (directory, Redis database) is used only if it is registered or
    written to by a producer in this process, listed in ``trusted_locations``
    (default: ``PROXYFLOW_TRUSTED_LOCATIONS``), or the event is signed.
    Otherwise [`UntrustedLocationError`][proxyflow.stream.exceptions.UntrustedLocationError]
    is raised, before anything is opened. With a ``signing_key`` (default:
    ``PROXYFLOW_SIGNING_KEY``) every event must be signed with the same key
    by its producer and be of one of ``topics``, and each stored object's
    bytes are checked against the digest its event carries before they are
    deserialized (also when a proxy resolves, in any process); failures are
    [`EventRejectedError`][proxyflow.stream.exceptions.EventRejectedError]
    subclasses, skipped in skip mode and counted in ``stats.untrusted``. See
    the security page of the documentation.

    **Bad messages.** A message that is not a valid event raises
    [`EventDecodeError`][proxyflow.stream.exceptions.EventDecodeError] (default,
    ``on_decode_error="raise"``) or, with ``"skip"``, is skipped and counted
    in ``stats.skipped_bad_messages``. Skip mode also skips (and counts)
    every other error an event's content causes while its store is found or
    its inline object rebuilt: a bad store config, a connector kind not
    allowed or not installed, an unknown serializer, fields of the wrong
    type. Backend failures (a store that cannot be reached) are raised in
    both modes.

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
    Without acknowledgements, objects resolved ahead are **lost** if the
    consumer is closed before they are taken (their events asked for
    eviction, so they are gone from the store); with them, they stay in the
    store until acknowledged and their deliveries are given back.
    [`close`][proxyflow.stream.consumer.StreamConsumer.close] stops the thread
    (it waits for it to notice the closed subscriber).

    **Acknowledgements.** Over an acknowledging subscriber
    ([`AckingSubscriber`][proxyflow.api.protocols.AckingSubscriber]: Redis
    Streams, NATS JetStream) every item is settled once, with the very proxy
    or object handed out:
    [`ack`][proxyflow.stream.consumer.StreamConsumer.ack],
    [`nack`][proxyflow.stream.consumer.StreamConsumer.nack] (deliver again)
    or [`reject`][proxyflow.stream.consumer.StreamConsumer.reject] (dead
    letter). ``ack="auto"`` (default) acknowledges an item when the same
    thread asks for the next one, at the end and on ``close()`` (a ``with``
    block left on an exception gives it back); ``"manual"`` leaves it to the
    caller. Objects are evicted when their delivery is acknowledged, never
    when resolved; a batch message is acknowledged when all its objects are
    and given back whole if any is; dropped objects and end-of-stream events
    are acknowledged at once; bad messages, missing objects and disallowed
    stores are rejected; a store failure while resolving gives the delivery
    back and is raised. The end of the stream waits until every item read is
    settled and every item given back has come again, and (``drain_group``)
    until the whole group drained the topics (Redis Streams, JetStream): what
    a dead member held comes back and is handed out here. ``close()`` gives
    back what is not settled. ``stats.redelivered`` counts redeliveries. A
    plain subscriber acknowledges nothing (``acknowledges`` is false and the methods raise
    [`AcknowledgementsUnavailableError`][proxyflow.stream.exceptions.AcknowledgementsUnavailableError]).
    The streaming guide's "Acknowledgements" section has the details.

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
        on_gap: What to do when a producer's events were lost (fan-out
            subscribers): ``"count"`` only counts them in ``stats.lost``,
            ``"warn"`` also logs a warning on the ``proxyflow.stream``
            logger, ``"raise"`` raises
            [`EventsLostError`][proxyflow.stream.exceptions.EventsLostError]
            (the consumer stays usable).
        ack: ``"auto"`` or ``"manual"`` (see Acknowledgements); ``"manual"``
            needs an acknowledging subscriber.
        drain_group: With acknowledgements on a subscriber with ``backlog``, end only
            once the group's backlog is empty (``False``: once this consumer settled).
        trusted_locations: Locations events may name without a signature:
            [`TrustedLocation`][proxyflow.stream.trust.TrustedLocation]
            entries or their string forms (``"file:/data/pf"``,
            ``"redis://host:6379/0"``), or ``"*"`` for every location;
            ``None`` reads ``PROXYFLOW_TRUSTED_LOCATIONS``.
        signing_key: The key events must be signed with (``str`` or
            ``bytes``, at least 16 bytes); ``None`` reads
            ``PROXYFLOW_SIGNING_KEY``, and when that is unset events are not
            checked.

    Raises:
        ValueError: If ``producers_per_topic`` has a count below 1,
            ``on_decode_error``, ``on_gap`` or ``ack`` is unknown,
            ``prefetch`` is negative, a trusted location is malformed or the
            signing key is too short.
        AcknowledgementsUnavailableError: If ``ack="manual"`` and the
            subscriber cannot acknowledge (it has no ``next_delivery``).
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
        on_gap: GapPolicy = "warn",
        ack: AckMode = "auto",
        trusted_locations: Iterable[str | TrustedLocation] | None = None,
        signing_key: str | bytes | None = None,
        drain_group: bool = True,
    ) -> None:
        chosen = selection(keep, filter_, "StreamConsumer")
        check_options(ack, on_decode_error, prefetch)
        check_subscriber(subscriber)
        self._topics = stream_topics(subscriber, topics)
        self._subscriber = subscriber
        mac_key = _mac_key(signing_key)
        self.stats = ConsumerStats()
        """Counters of decoded events, objects, skipped and filtered messages, and deliveries."""
        self._ack_mode: AckMode = ack
        acking = callable(getattr(subscriber, "next_delivery", None))
        require_acking(ack, acking, subscriber, "RedisStreamSubscriber or JetStreamSubscriber")
        self._acks = AckTracker(ack, self.stats) if acking else None
        roster = getattr(subscriber, "roster", None)
        end = EndOfStream(self._topics, producers_per_topic, roster if callable(roster) else None)
        self._reader = event_reader(
            subscriber,
            timeout,
            end,
            on_decode_error=on_decode_error,
            stats=self.stats,
            on_gap=on_gap,
            acks=self._acks,
            mac_key=mac_key,
            topics=self._topics,
        )
        resolver = store_resolver(allowed_connectors, store_overrides, trusted_locations, mac_key)
        self._source = ObjectSource(self._reader, resolver, chosen, self.stats, self._acks)
        self._source.timeout = timeout
        self._source.drain = group_drain(subscriber, end, self._acks, timeout, drain_group)
        self._readahead = ReadAhead(self._source, self._reader, self._acks)
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
    def acknowledges(self) -> bool:
        """Whether items are acknowledged (the subscriber is an ``AckingSubscriber``)."""
        return self._acks is not None

    @property
    def ack_mode(self) -> AckMode:
        """``"auto"`` or ``"manual"``: when items are acknowledged (if ``acknowledges``)."""
        return self._ack_mode

    @property
    def ended(self) -> bool:
        """Whether the stream has ended (no more objects will be yielded)."""
        reader = self._reader
        return (
            reader.ending.done
            and not reader.pending
            and (self._prefetcher is None or not self._prefetcher.waiting)
            and end_wait(reader, self._acks, self._source.drain) is None
        )

    def next(self) -> Proxy[T] | T:
        """Return the next proxy (or inline object), without its metadata.

        Iterating over the consumer calls it. See
        [`next_with_metadata`][proxyflow.stream.consumer.StreamConsumer.next_with_metadata].
        """
        # The same as _next_item(resolve=False)[1], without the pair: the hot path.
        if self._acks is not None:
            return self._next_item(resolve=False)[1]  # type: ignore[no-any-return]
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
        return store.proxy_from_key(kept.key, evict=kept.evict, digest=kept.digest)  # type: ignore[union-attr]

    __next__ = next

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

        With acknowledgements, first the items handed out and not settled
        are acknowledged (``ack="auto"``) or given back (``"manual"``), then
        every other delivery read (decoded, prefetched) is given back.

        Args:
            stores: Whether to close the stores this consumer built.
            subscriber: Whether to close the subscriber.
        """
        self._close(stores=stores, subscriber=subscriber, failed=False)

    def __repr__(self) -> str:
        return f"StreamConsumer(topics={self._topics!r}, ended={self.ended}, closed={self._closed})"
