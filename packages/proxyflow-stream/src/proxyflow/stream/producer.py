"""The producer side of a stream: [`StreamProducer`][proxyflow.stream.producer.StreamProducer]."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic

from proxyflow.api import Closeable
from proxyflow.store import Store
from proxyflow.stream._closing import close_stores
from proxyflow.stream._filtering import selection
from proxyflow.stream._producer_setup import StoreMap, check_batch_size, check_publisher
from proxyflow.stream._producer_setup import producer_id as producer_id_of
from proxyflow.stream._producer_topics import Topics
from proxyflow.stream._signing import Signer
from proxyflow.stream._signing import signing_key as _mac_key
from proxyflow.stream._topic import INLINE_SERIALIZER, TopicPublisher
from proxyflow.stream._typing import T
from proxyflow.stream._wire import pack_metadata
from proxyflow.stream.exceptions import BatchSendError, ProducerClosedError, TopicClosedError
from proxyflow.stream.protocols import Filter, MetadataPredicate, Publisher
from proxyflow.stream.results import SENT, SendResult

__all__ = ["INLINE_SERIALIZER", "SendResult", "StreamProducer"]


class StreamProducer(Topics, Closeable, Generic[T]):
    """Publishes objects on topics: each object goes to a store, a small event to the broker.

    **Where objects go.** ``stores`` maps a topic to the
    [`Store`][proxyflow.store.Store] that holds its objects, or to ``None`` to
    send that topic's objects *inline*, inside the event. A topic missing from
    ``stores`` uses ``default_store``; with neither, objects travel inline.
    Inline is meant for small objects (a few kB): the broker carries the
    bytes, and consumers get the objects themselves instead of proxies.

    **Filtering.** ``keep=predicate`` sends only the objects whose metadata
    the predicate is true for; ``filter_=predicate`` drops them instead, as
    ProxyStore's ``filter_`` does (True drops). Give one or neither. A dropped
    object is never stored nor published and uses no sequence number. See
    [`proxyflow.stream.filters`][proxyflow.stream.filters].

    **Batching.** With ``batch_size=n`` objects are buffered per topic; every
    ``n`` objects (or on [`flush_topic`][proxyflow.stream.producer.StreamProducer.flush_topic],
    [`flush`][proxyflow.stream.producer.StreamProducer.flush],
    [`close_topics`][proxyflow.stream.producer.StreamProducer.close_topics] and
    [`close`][proxyflow.stream.producer.StreamProducer.close]) the buffer is
    stored with **one** all-or-nothing batch write and published as **one**
    message (a [`BatchEvent`][proxyflow.stream.events.BatchEvent] when it
    holds more than one object). Consumers still see the objects one by one,
    in order. Each object is serialized by its own ``send()``, so an object
    that cannot be serialized fails there, alone, and is never buffered.

    **Honest sends.** ``send()`` returns a
    [`SendResult`][proxyflow.stream.results.SendResult]. Without batching it
    returns only once the object is stored and the publisher accepted its
    event (any failure is raised by ``send()`` itself), so the result is
    already done. With batching the result reports the object's own outcome
    once its batch is flushed (``done()``, ``result(timeout)``,
    ``exception()``; asking flushes the topic if needed), and the call that
    flushes a failed batch raises
    [`BatchSendError`][proxyflow.stream.exceptions.BatchSendError], whose
    ``failures`` name exactly the objects that were not stored (each with
    its topic, send index, the object and the error). A failed batch leaves
    nothing behind: what was stored for it is evicted again and no event
    names it, except when publishing timed out (a ``TimeoutError``: the
    broker may have taken the event), where the stored objects are kept and
    each failure says ``maybe_published`` and gives its key (without
    batching, ``send()`` raises
    [`SendTimeoutError`][proxyflow.stream.exceptions.SendTimeoutError],
    whose ``failure`` does the same). A ``send()``
    that returned and a flush that raised nothing mean the objects are
    stored and announced.

    **Aggregation.** With an ``aggregator``, each flushed buffer becomes a
    single object ``aggregator([obj, ...])`` sent as one event. Its metadata
    is the buffered metadata dicts merged in send order (a later value wins
    for a repeated key), and it is evicted on read if *any* buffered send
    asked for ``evict`` (as in ProxyStore: an object someone wanted gone is
    not left in the store; send everything with ``evict=False`` to keep the
    aggregate).

    **Types.** The class is generic in the type of the objects:
    ``StreamProducer[str](...)`` lets a type checker verify that ``send``
    gets a ``str`` (and that the aggregator returns one).

    **Events.** Every event carries this producer's id
    ([`producer_id`][proxyflow.stream.producer.StreamProducer.producer_id]) and
    a per-topic sequence number: 0, 1, 2... one per object event, plus one for
    the end-of-stream event. Numbers follow publication order.

    **Threads.** One producer may be shared by threads: each topic has its own
    lock, held while a batch is stored and published, so sequence numbers on
    the wire stay in order.

    **Closing.** [`close_topics`][proxyflow.stream.producer.StreamProducer.close_topics]
    flushes the topics then sends their end-of-stream events; consumers stop
    once every topic they read has ended. [`close`][proxyflow.stream.producer.StreamProducer.close]
    flushes every pending batch (nothing buffered is lost), closes the given
    topics, then releases the publisher and the stores. Closing a store only
    releases its connections: it never deletes stored objects, which consumers
    may still read. Use the producer as a context manager to close it on exit.

    **Rosters.** On a work-sharing broker (the publisher has ``join`` and
    ``leave``, see [`WorkSharingPublisher`][proxyflow.api.protocols.WorkSharingPublisher])
    the producer joins a topic's roster before its first message there and
    leaves it after its end-of-stream event, so that every consumer of the
    topic, not only the one that takes the end-of-stream message, knows when
    the topic has ended.

    **Errors.** Bad metadata raises
    [`EventEncodeError`][proxyflow.stream.exceptions.EventEncodeError] before anything is
    stored; an object that cannot be serialized raises the serializer's
    ``SerializationError`` from its own ``send()``. Store and broker failures
    are the typed errors of [`proxyflow.api.exceptions`][proxyflow.api.exceptions]
    (store full, object too large, authentication, unreachable...) and of the
    shim, raised by ``send()`` without batching and carried by
    ``BatchSendError`` (as each failure's ``error`` and as ``__cause__``) with
    it. A failed batch is dropped, so it is reported once, not by every
    later flush. Objects published earlier are untouched.

    **Signing.** With a ``signing_key`` (default: the environment variable
    ``PROXYFLOW_SIGNING_KEY``) every event is signed: a MAC over the whole
    message (its topic included) and the digest of each stored object's
    bytes, which consumers with the same key check (see
    [`StreamConsumer`][proxyflow.stream.StreamConsumer]). Without a key
    nothing is added.

    Future seams (not implemented): byte back-pressure (block ``send`` while a
    store with metrics holds too many bytes) and acknowledgements.

    Args:
        publisher: The broker publisher events are sent through.
        stores: Topic to store (``None`` value: send inline).
        default_store: Store for topics missing from ``stores``.
        aggregator: Turns a list of buffered objects into one object.
        batch_size: Objects buffered per topic before a flush (``>= 1``).
        filter_: Metadata predicate; **True drops** the object (ProxyStore's meaning).
        keep: Metadata predicate; True keeps the object. Not with ``filter_``.
        producer_id: This producer's id on the wire: ``bytes`` as given, a
            ``str`` as UTF-8 (1 to 64 bytes either way); default a random
            8-byte id (``uuid4().bytes[:8]``). Producers sending on the same
            topic need distinct ids for ``producers_per_topic`` to work.
        signing_key: The key to sign events with (``str`` or ``bytes``, at
            least 16 bytes); ``None`` reads ``PROXYFLOW_SIGNING_KEY``, and
            when that is unset events are not signed.

    Raises:
        ValueError: If ``batch_size < 1``, ``producer_id`` has a bad length
            or the signing key is too short.
        TypeError: If both ``keep`` and ``filter_`` are given, or ``publisher``
            has no ``send_message`` method.

    Example:
        ```python
        import queue
        from proxyflow.connectors.local import LocalConnector
        from proxyflow.shims.queue import QueuePublisher
        from proxyflow.store import Store
        from proxyflow.stream import StreamProducer

        q: queue.Queue[bytes] = queue.Queue()
        store = Store("example", LocalConnector())
        with StreamProducer(QueuePublisher({"numbers": q}), default_store=store) as producer:
            for i in range(10):
                producer.send("numbers", i, metadata={"index": i})
            producer.close_topics("numbers")
        ```
    """

    def __init__(
        self,
        publisher: Publisher,
        *,
        stores: Mapping[str, Store | None] | None = None,
        default_store: Store | None = None,
        aggregator: Callable[[list[T]], T] | None = None,
        batch_size: int = 1,
        filter_: Filter | None = None,
        keep: MetadataPredicate | None = None,
        producer_id: str | bytes | None = None,
        signing_key: str | bytes | None = None,
    ) -> None:
        check_batch_size(batch_size)
        chosen = selection(keep, filter_, "StreamProducer")
        check_publisher(publisher)
        self._publisher = publisher
        self._stores = StoreMap(stores, default_store)
        self._aggregator = aggregator
        self._batch_size = batch_size
        self._predicate = chosen.predicate
        self._keeps = chosen.keeps
        self._id = producer_id_of(producer_id)
        key = _mac_key(signing_key)
        self._signer = None if key is None else Signer(key)
        self._topics: dict[str, TopicPublisher] = {}
        self._lock = threading.Lock()
        self._closed = False

    @property
    def publisher(self) -> Publisher:
        """The broker publisher this producer sends events through."""
        return self._publisher

    @property
    def producer_id(self) -> bytes:
        """The id this producer writes into every event."""
        return self._id

    @property
    def closed(self) -> bool:
        """Whether [`close`][proxyflow.stream.producer.StreamProducer.close] was called."""
        return self._closed

    def send(
        self,
        topic: str,
        obj: T,
        *,
        evict: bool = True,
        metadata: Mapping[str, Any] | None = None,
    ) -> SendResult:
        """Send one object on ``topic`` (buffered when ``batch_size > 1``).

        Args:
            topic: The topic to publish on.
            obj: The object; it must be serializable by the topic's store (or
                by [`proxyflow.serialize.serialize`][proxyflow.serialize.serialize] when inline).
            evict: Whether the object is removed from the store when a consumer
                reads it (``next_object``) or resolves its proxy. Use ``False``
                when several consumers must read it. Ignored inline.
            metadata: A ``str``-keyed dict of msgpack values (numbers, strings,
                bytes, lists, dicts) carried in the event and given to the
                ``keep`` / ``filter_`` predicate.

        Returns:
            The object's [`SendResult`][proxyflow.stream.results.SendResult]:
            done already without batching (or when this send flushed the
            batch), pending while the object is buffered. An object dropped
            by ``keep`` / ``filter_`` gets a done, successful result.

        Raises:
            ProducerClosedError: If the producer is closed.
            TopicClosedError: If ``topic`` was closed by
                [`close_topics`][proxyflow.stream.producer.StreamProducer.close_topics].
            EventEncodeError: If ``metadata`` cannot be encoded (nothing is stored).
            SerializationError: If ``obj`` cannot be serialized (nothing is
                stored or buffered; other objects are unaffected).
            BatchSendError: If this send filled the batch and the batch could
                not be stored or published (it names every object lost).
            ProxyflowError: Without batching, the store's or the publisher's
                typed error (``BackendFullError``, ``BackendUnavailableError``...).
            SendTimeoutError: Without batching, if publishing timed out after the
                object was stored: it stays in the store, and the error names its key.
        """
        # Checks inlined: the hot path (a method call per check costs ~7% of an inline send).
        if self._closed:
            raise ProducerClosedError("the producer is closed")
        state = self._topics.get(topic)
        if state is None:
            state = self._topic(topic)
        if state.closed:
            raise TopicClosedError(f"topic {topic!r} was closed by this producer")
        md, packed = pack_metadata(metadata)
        predicate = self._predicate
        if predicate is not None and (not predicate(md) if self._keeps else predicate(md)):
            return SENT
        with state.lock:
            if self._closed:
                raise ProducerClosedError("the producer is closed")
            if state.closed:
                raise TopicClosedError(f"topic {topic!r} was closed by this producer")
            if self._batch_size == 1 and self._aggregator is None:
                state.send_one(obj, md, packed, evict)
                return SENT
            pieces = None if self._aggregator is not None else state.serialize(obj)
            result = state.add(obj, md, packed, evict, pieces)
            if len(state.buffer.objs) >= self._batch_size:
                state.flush(self._aggregator)
            return result

    def flush_topic(self, topic: str) -> None:
        """Store and publish whatever is buffered for ``topic``.

        An empty buffer (or a closed or never-used topic) stores and sends nothing.

        Raises:
            ProducerClosedError: If the producer is closed.
            BatchSendError: If the buffer could not be stored or published
                (it names every object lost).
        """
        self._check_open()
        self._flush_state(topic)

    def flush(self) -> None:
        """Flush every topic's buffer.

        [`flush_topic`][proxyflow.stream.producer.StreamProducer.flush_topic] flushes one topic.
        Every topic is flushed even when one fails.

        Raises:
            ProducerClosedError: If the producer is closed.
            BatchSendError: Naming every object, of every topic, that could
                not be stored or published.
        """
        self._check_open()
        self._flush_all()

    def close_topics(self, *topics: str) -> None:
        """Flush then end each topic: send its end-of-stream event.

        Consumers count a topic as ended once they received end-of-stream
        from as many distinct producers as they were told to expect. Closing
        a topic twice sends one end-of-stream only; a later
        [`send`][proxyflow.stream.producer.StreamProducer.send] on it raises
        [`TopicClosedError`][proxyflow.stream.exceptions.TopicClosedError].

        On a work-sharing broker, the producer then leaves each topic's
        roster (see the class documentation).

        Args:
            *topics: The topics to close.

        Raises:
            ProducerClosedError: If the producer is closed.
            BatchSendError: If a final flush failed (every topic still got
                its end-of-stream event; the error names the lost objects).
        """
        self._check_open()
        self._close_topics(topics)

    def close(
        self, *, topics: Iterable[str] = (), publisher: bool = True, stores: bool = True
    ) -> None:
        """Flush everything, close ``topics``, then release the publisher and stores.

        Every pending partial batch of every topic is stored and published
        first, so nothing buffered is lost. Closing stores releases their
        resources only and never deletes stored objects. Calling ``close``
        again does nothing; any other call after it raises
        [`ProducerClosedError`][proxyflow.stream.exceptions.ProducerClosedError].

        Args:
            topics: Topics to end (send end-of-stream) before closing.
            publisher: Whether to close the publisher.
            stores: Whether to close the stores given to this producer.

        Raises:
            BatchSendError: If a pending batch could not be stored or
                published (raised after everything else was closed).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        failed: BatchSendError | None = None
        try:
            try:
                self._flush_all()
            except BatchSendError as exc:
                failed = exc
            self._close_topics(topics)
        finally:
            if publisher:
                self._publisher.close()
            if stores:
                close_stores(self._stores.given())
        if failed is not None:
            raise failed

    def __repr__(self) -> str:
        return f"StreamProducer(producer_id={self._id.hex()!r}, closed={self._closed})"
