"""The asyncio producer: `AsyncStreamProducer`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic

from proxyflow.api import AsyncCloseable, AsyncPublisher
from proxyflow.store import Store
from proxyflow.stream._async_checks import check_async
from proxyflow.stream._async_topic import AsyncTopicPublisher, for_each_async_topic
from proxyflow.stream._closing import close_stores
from proxyflow.stream._filtering import selection
from proxyflow.stream._producer_setup import StoreMap, check_batch_size
from proxyflow.stream._producer_setup import producer_id as producer_id_of
from proxyflow.stream._signing import Signer
from proxyflow.stream._signing import signing_key as _mac_key
from proxyflow.stream._typing import T
from proxyflow.stream._wire import TopicCodec, pack_metadata
from proxyflow.stream.exceptions import BatchSendError, ProducerClosedError
from proxyflow.stream.protocols import Filter, MetadataPredicate
from proxyflow.stream.results import SENT, SendResult

__all__ = ["AsyncStreamProducer"]


class AsyncStreamProducer(AsyncCloseable, Generic[T]):
    """Publishes objects on topics from asyncio code: stores, events, same wire format.

    The asyncio form of [`StreamProducer`][proxyflow.stream.producer.StreamProducer],
    with its arguments and behaviour (stores per topic or inline, ``keep`` /
    ``filter_``, batching, aggregation, producer ids and sequence numbers,
    ``close_topics``, errors), over an asyncio publisher
    (``proxyflow.api.AsyncPublisher``: ``AsyncQueuePublisher``,
    ``AsyncZeroMQPublisher``, ``AsyncRedisPublisher``,
    ``AsyncRedisQueuePublisher``, ``AsyncRedisStreamPublisher``,
    ``AsyncJetStreamPublisher``). Its events are byte for byte those of the
    synchronous producer, so either kind of consumer reads them.

    **Waiting.** ``await send(...)`` returns once the event was handed to the
    publisher, as the synchronous ``send`` does. Stores are synchronous: each
    ``put`` / ``put_batch``, the serialization of a buffered object for its
    store, and the eviction after a failed send run in a worker thread
    (``asyncio.to_thread``), so the event loop never waits for a file or a
    network store. Inline objects are serialized on the loop (they are
    small). Closing the stores runs in a thread too.

    **Honest sends.** ``await send(...)`` returns the same
    [`SendResult`][proxyflow.stream.results.SendResult] as ``StreamProducer.send``,
    with the same meaning, and a flush that fails raises the same
    [`BatchSendError`][proxyflow.stream.exceptions.BatchSendError] naming
    every object lost (from ``send``, ``flush_topic``, ``flush``,
    ``close_topics`` or ``close``); an object that cannot be serialized fails
    its own ``send`` alone. One difference: a result whose object is still
    buffered cannot flush by itself (flushes are awaited), so its
    ``result()`` / ``exception()`` raise
    [`SendPendingError`][proxyflow.stream.exceptions.SendPendingError]
    instead of blocking the loop; ``done()`` tells, and once the batch is
    flushed the result answers at once.

    **Signing.** ``signing_key`` (default ``PROXYFLOW_SIGNING_KEY``) signs
    every event exactly as ``StreamProducer`` does (a MAC over the message,
    the digest of each stored object's bytes); consumers of either kind
    with the same key check them.

    **Tasks.** Several tasks may share a producer: each topic has an
    ``asyncio.Lock``, held while a batch is stored and published, so sequence
    numbers on the wire stay in order. A task cancelled inside ``send`` while
    its object is being stored leaves the object in the store without an
    event (as a failed send would, but it is not evicted): cancel producers
    between sends.

    **Closing.** ``await close()`` flushes every pending batch, ends the given
    topics, then closes the publisher and the stores (which never deletes
    stored objects); ``async with`` calls it on exit.

    Args:
        publisher: The asyncio broker publisher events are sent through.
        stores: Topic to store (``None`` value: send inline).
        default_store: Store for topics missing from ``stores``.
        aggregator: Turns a list of buffered objects into one object.
        batch_size: Objects buffered per topic before a flush (``>= 1``).
        filter_: Metadata predicate; **True drops** the object (ProxyStore's meaning).
        keep: Metadata predicate; True keeps the object. Not with ``filter_``.
        producer_id: This producer's id on the wire (see ``StreamProducer``).
        signing_key: The key to sign events with (``str`` or ``bytes``, at
            least 16 bytes); ``None`` reads ``PROXYFLOW_SIGNING_KEY``, and
            when that is unset events are not signed.

    Raises:
        ValueError: If ``batch_size < 1``, ``producer_id`` has a bad length
            or the signing key is too short.
        TypeError: If both ``keep`` and ``filter_`` are given, or
            ``publisher.send_message`` is not a coroutine function (use
            ``StreamProducer`` with a synchronous publisher).

    Example:
        ```python
        import asyncio

        from proxyflow.shims.queue import AsyncQueuePublisher
        from proxyflow.stream import AsyncStreamProducer


        async def main() -> int:
            q: asyncio.Queue[bytes] = asyncio.Queue()
            async with AsyncStreamProducer(AsyncQueuePublisher({"numbers": q})) as producer:
                for i in range(3):
                    await producer.send("numbers", i, metadata={"index": i})
                await producer.close_topics("numbers")
            return q.qsize()  # three objects (inline) and the end of the stream


        assert asyncio.run(main()) == 4
        ```
    """

    def __init__(
        self,
        publisher: AsyncPublisher,
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
        chosen = selection(keep, filter_, "AsyncStreamProducer")
        check_async(publisher, "send_message", "proxyflow.api.AsyncPublisher", "StreamProducer")
        self._publisher = publisher
        self._stores = StoreMap(stores, default_store)
        self._aggregator = aggregator
        self._batch_size = batch_size
        self._selection = chosen
        self._id = producer_id_of(producer_id)
        key = _mac_key(signing_key)
        self._signer = None if key is None else Signer(key)
        self._topics: dict[str, AsyncTopicPublisher] = {}
        self._closed = False

    @property
    def publisher(self) -> AsyncPublisher:
        """The asyncio broker publisher this producer sends events through."""
        return self._publisher

    @property
    def producer_id(self) -> bytes:
        """The id this producer writes into every event."""
        return self._id

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._closed

    def _topic(self, topic: str) -> AsyncTopicPublisher:
        state = self._topics.get(topic)
        if state is None:  # no await in between: tasks cannot race here
            store = self._stores.store_for(topic)
            codec = TopicCodec(self._id, topic, self._stores.packed_config(store))
            state = AsyncTopicPublisher(
                topic, store, codec, self._publisher, self._id, signer=self._signer
            )
            self._topics[topic] = state
        return state

    def _check_open(self) -> None:
        if self._closed:
            raise ProducerClosedError("the producer is closed")

    async def send(
        self,
        topic: str,
        obj: T,
        *,
        evict: bool = True,
        metadata: Mapping[str, Any] | None = None,
    ) -> SendResult:
        """Send one object on ``topic`` (buffered when ``batch_size > 1``).

        See [`StreamProducer.send`][proxyflow.stream.producer.StreamProducer.send].

        Returns:
            The object's [`SendResult`][proxyflow.stream.results.SendResult]:
            done already without batching (or when this send flushed the
            batch), pending while the object is buffered.

        Raises:
            ProducerClosedError: If the producer is closed.
            TopicClosedError: If ``topic`` was closed by `close_topics`.
            EventEncodeError: If ``metadata`` cannot be encoded (nothing is stored).
            SerializationError: If ``obj`` cannot be serialized (nothing is
                stored or buffered; other objects are unaffected).
            BatchSendError: If this send filled the batch and the batch could
                not be stored or published (it names every object lost).
            ProxyflowError: Without batching, the store's or the publisher's
                typed error.
            SendTimeoutError: Without batching, if publishing timed out after the
                object was stored: it stays in the store, and the error names its key.
        """
        self._check_open()
        state = self._topic(topic)
        state.check_open()
        md, packed = pack_metadata(metadata)
        if self._selection.drops(md):
            return SENT
        async with state.lock:
            self._check_open()
            state.check_open()
            if self._batch_size == 1 and self._aggregator is None:
                await state.send_one(obj, md, packed, evict)
                return SENT
            pieces = None
            if self._aggregator is None:  # fails here, alone, if it cannot be serialized
                if state.store is None:
                    pieces = state.serialize(obj)
                else:
                    pieces = await asyncio.to_thread(state.serialize, obj)
            result = state.add(obj, md, packed, evict, pieces)
            if len(state.buffer.objs) >= self._batch_size:
                await state.flush(self._aggregator)
            return result

    async def flush_topic(self, topic: str) -> None:
        """Store and publish whatever is buffered for ``topic``.

        Raises:
            ProducerClosedError: If the producer is closed.
            BatchSendError: If the buffer could not be stored or published.
        """
        self._check_open()
        state = self._topics.get(topic)
        if state is not None:
            async with state.lock:
                await state.flush(self._aggregator)

    async def flush(self) -> None:
        """Flush every topic's buffer (every topic, even when one fails).

        Raises:
            ProducerClosedError: If the producer is closed.
            BatchSendError: Naming every object, of every topic, that could
                not be stored or published.
        """
        self._check_open()
        await self._flush_all()

    async def _flush_all(self) -> None:
        aggregator = self._aggregator
        await for_each_async_topic(list(self._topics.values()), lambda s: s.flush(aggregator))

    async def close_topics(self, *topics: str) -> None:
        """Flush then end each topic: send its end-of-stream event (once per topic).

        See [`StreamProducer.close_topics`][proxyflow.stream.producer.StreamProducer.close_topics].

        Raises:
            ProducerClosedError: If the producer is closed.
            BatchSendError: If a final flush failed (every topic still got
                its end-of-stream event; the error names the lost objects).
        """
        self._check_open()
        await self._close_topics(topics)

    async def _close_topics(self, topics: Iterable[str]) -> None:
        aggregator = self._aggregator
        states = [self._topic(topic) for topic in topics]
        await for_each_async_topic(states, lambda s: s.end(aggregator))

    async def close(
        self, *, topics: Iterable[str] = (), publisher: bool = True, stores: bool = True
    ) -> None:
        """Flush everything, close ``topics``, then release the publisher and stores.

        See [`StreamProducer.close`][proxyflow.stream.producer.StreamProducer.close].
        Calling it again does nothing; any other call after it raises
        [`ProducerClosedError`][proxyflow.stream.exceptions.ProducerClosedError].

        Args:
            topics: Topics to end (send end-of-stream) before closing.
            publisher: Whether to close the publisher.
            stores: Whether to close the stores given to this producer (in a thread).

        Raises:
            BatchSendError: If a pending batch could not be stored or
                published (raised after everything else was closed).
        """
        if self._closed:
            return
        self._closed = True
        failed: BatchSendError | None = None
        try:
            try:
                await self._flush_all()
            except BatchSendError as exc:
                failed = exc
            await self._close_topics(topics)
        finally:
            try:
                if publisher:
                    await self._publisher.close()
            finally:
                if stores:
                    await asyncio.to_thread(close_stores, self._stores.given())
        if failed is not None:
            raise failed

    def __repr__(self) -> str:
        return f"AsyncStreamProducer(producer_id={self._id.hex()!r}, closed={self._closed})"
