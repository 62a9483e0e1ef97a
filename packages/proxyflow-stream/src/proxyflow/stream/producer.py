"""The producer side of a stream: [`StreamProducer`][proxyflow.stream.producer.StreamProducer]."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic

from proxyflow.api import Closeable
from proxyflow.store import Store
from proxyflow.stream._closing import close_stores
from proxyflow.stream._filtering import selection
from proxyflow.stream._topic import INLINE_SERIALIZER, TopicPublisher
from proxyflow.stream._typing import T
from proxyflow.stream._wire import (
    MAX_PRODUCER_ID_LEN,
    TopicCodec,
    encode_store_config,
    pack_metadata,
)
from proxyflow.stream.exceptions import ProducerClosedError, TopicClosedError
from proxyflow.stream.protocols import Filter, MetadataPredicate, Publisher

__all__ = ["INLINE_SERIALIZER", "StreamProducer"]


def _producer_id(producer_id: str | bytes | None) -> bytes:
    if producer_id is None:
        return uuid.uuid4().bytes[:8]
    raw = producer_id.encode("utf-8") if isinstance(producer_id, str) else bytes(producer_id)
    if not 0 < len(raw) <= MAX_PRODUCER_ID_LEN:
        raise ValueError(f"producer_id must be 1 to {MAX_PRODUCER_ID_LEN} bytes, got {len(raw)}")
    return raw


class StreamProducer(Closeable, Generic[T]):
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
    stored with **one** ``store.put_batch`` and published as **one** message (a
    [`BatchEvent`][proxyflow.stream.events.BatchEvent] when it holds more than
    one object). Consumers still see the objects one by one, in order.

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

    **Errors.** Bad metadata raises
    [`EventEncodeError`][proxyflow.stream.exceptions.EventEncodeError] before anything is
    stored. If storing or publishing a batch fails, the error propagates from
    the call that flushed it, the batch is dropped (a bad object would
    otherwise fail every later flush) and objects already stored for it are
    evicted again (best effort), so no unreachable object is left behind.
    Objects published earlier are untouched.

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

    Raises:
        ValueError: If ``batch_size < 1`` or ``producer_id`` has a bad length.
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
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        chosen = selection(keep, filter_, "StreamProducer")
        if not callable(getattr(publisher, "send_message", None)):
            raise TypeError(
                "publisher must provide send_message(topic, message) and close() (the "
                f"proxyflow.api.Publisher protocol); {type(publisher).__name__} does not"
            )
        self._publisher = publisher
        self._stores: dict[str, Store | None] = dict(stores or {})
        self._default_store = default_store
        self._aggregator = aggregator
        self._batch_size = batch_size
        self._predicate = chosen.predicate
        self._keeps = chosen.keeps
        self._id = _producer_id(producer_id)
        # Packed store configs, computed once per store: id(store) -> bytes.
        # The stores stay referenced by ``_stores``/``_default_store``, so ids are stable.
        self._configs: dict[int, bytes] = {}
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

    def _packed_config(self, store: Store) -> bytes:
        packed = self._configs.get(id(store))
        if packed is None:
            packed = encode_store_config(store.config())
            self._configs[id(store)] = packed
        return packed

    def _topic(self, topic: str, *, closing: bool = False) -> TopicPublisher:
        state = self._topics.get(topic)
        if state is not None:
            return state
        with self._lock:
            if self._closed and not closing:
                raise ProducerClosedError("the producer is closed")
            state = self._topics.get(topic)
            if state is None:
                store = self._stores.get(topic, self._default_store)
                config = None if store is None else self._packed_config(store)
                codec = TopicCodec(self._id, topic, config)
                state = TopicPublisher(topic, store, codec, self._publisher)
                self._topics[topic] = state
            return state

    def _check_open(self) -> None:
        if self._closed:
            raise ProducerClosedError("the producer is closed")

    def send(
        self,
        topic: str,
        obj: T,
        *,
        evict: bool = True,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
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

        Raises:
            ProducerClosedError: If the producer is closed.
            TopicClosedError: If ``topic`` was closed by
                [`close_topics`][proxyflow.stream.producer.StreamProducer.close_topics].
            EventEncodeError: If ``metadata`` cannot be encoded (nothing is stored).
        """
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
            return
        with state.lock:
            if self._closed:
                raise ProducerClosedError("the producer is closed")
            if state.closed:
                raise TopicClosedError(f"topic {topic!r} was closed by this producer")
            if self._batch_size == 1 and self._aggregator is None:
                state.publish_one(obj, packed, evict)
                return
            buffer = state.buffer  # one list per field (see Buffer)
            buffer.objs.append(obj)
            buffer.metadatas.append(md)
            buffer.packed.append(packed)
            buffer.evicts.append(evict)
            if len(buffer.objs) >= self._batch_size:
                state.flush(self._aggregator)

    def flush_topic(self, topic: str) -> None:
        """Store and publish whatever is buffered for ``topic``.

        An empty buffer (or a closed or never-used topic) stores and sends nothing.

        Raises:
            ProducerClosedError: If the producer is closed.
        """
        self._check_open()
        state = self._topics.get(topic)
        if state is None:
            return
        with state.lock:
            state.flush(self._aggregator)

    def flush(self) -> None:
        """Flush every topic's buffer.

        [`flush_topic`][proxyflow.stream.producer.StreamProducer.flush_topic] flushes one topic.

        Raises:
            ProducerClosedError: If the producer is closed.
        """
        self._check_open()
        self._flush_all()

    def _flush_all(self) -> None:
        for state in list(self._topics.values()):
            with state.lock:
                state.flush(self._aggregator)

    def close_topics(self, *topics: str) -> None:
        """Flush then end each topic: send its end-of-stream event.

        Consumers count a topic as ended once they received end-of-stream
        from as many distinct producers as they were told to expect. Closing
        a topic twice sends one end-of-stream only; a later
        [`send`][proxyflow.stream.producer.StreamProducer.send] on it raises
        [`TopicClosedError`][proxyflow.stream.exceptions.TopicClosedError].

        Args:
            *topics: The topics to close.

        Raises:
            ProducerClosedError: If the producer is closed.
        """
        self._check_open()
        self._close_topics(topics)

    def _close_topics(self, topics: Iterable[str]) -> None:
        for topic in topics:
            state = self._topic(topic, closing=True)
            with state.lock:
                state.end(self._aggregator)

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
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._flush_all()
            self._close_topics(topics)
        finally:
            if publisher:
                self._publisher.close()
            if stores:
                close_stores(s for s in (*self._stores.values(), self._default_store) if s)

    def __repr__(self) -> str:
        return f"StreamProducer(producer_id={self._id.hex()!r}, closed={self._closed})"
