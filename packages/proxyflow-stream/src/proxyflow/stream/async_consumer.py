"""The asyncio consumer: `AsyncStreamConsumer`.

It shares every sans-I/O piece of
[`StreamConsumer`][proxyflow.stream.consumer.StreamConsumer]: decoding and
end-of-stream accounting (``_reader.EventReader.accept``), the selection, the
store resolver and its cache, inline objects and the counters. Only waiting
differs: messages are awaited from an asyncio subscriber, and whatever may
touch a store (building one from an event's config, evicting a dropped
object, reading an object) runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from typing import Any, Generic, Literal, cast

from proxyflow.api import AsyncCloseable, AsyncSubscriber
from proxyflow.proxy import Proxy
from proxyflow.store import Store
from proxyflow.stream._ack_types import AckMode, Outcome
from proxyflow.stream._async_acks import AsyncAckTracker
from proxyflow.stream._async_checks import check_async
from proxyflow.stream._async_prefetch import AsyncPrefetcher
from proxyflow.stream._async_reading import AsyncReading
from proxyflow.stream._async_receive import AsyncReceiver
from proxyflow.stream._consumer_wiring import (
    check_options,
    event_reader,
    group_drain,
    require_acking,
    store_resolver,
    stream_topics,
)
from proxyflow.stream._draining import end_wait
from proxyflow.stream._filtering import selection
from proxyflow.stream._gaps import GapPolicy
from proxyflow.stream._readahead import ProbeBackoff
from proxyflow.stream._signing import signing_key as _mac_key
from proxyflow.stream._source import ObjectSource
from proxyflow.stream._stats import ConsumerStats
from proxyflow.stream._typing import T
from proxyflow.stream._until_end import async_until_end
from proxyflow.stream.protocols import Filter, MetadataPredicate, Subscriber
from proxyflow.stream.trust import TrustedLocation

__all__ = ["AsyncStreamConsumer"]


class AsyncStreamConsumer(AsyncReading, AsyncCloseable, Generic[T]):
    """Reads a stream from asyncio code: ``async for`` yields proxies of the stored objects.

    The asyncio form of [`StreamConsumer`][proxyflow.stream.consumer.StreamConsumer],
    with its arguments and behaviour (stores found from each event's config
    and cached, ``allowed_connectors``, ``store_overrides``, trusted
    locations and signed events, end of stream per topic and producer count
    or by the roster of a work-sharing broker, ``keep`` / ``filter_``, inline
    objects, bad messages, ``stats``), over an asyncio subscriber
    (``proxyflow.api.AsyncSubscriber``). It reads the events of either kind of
    producer.

    **Reading.** ``async for item in consumer`` and ``await consumer.next()``
    give a [`Proxy`][proxyflow.proxy.Proxy] per stored object (resolving it
    later blocks; from async code use
    [`resolve_async`][proxyflow.proxy.resolve_async]) or the object itself
    for inline events. ``await next_object()`` and the other resolving
    methods read the object at once (see **Waiting**). At the end of the
    stream the ``next*`` coroutines raise ``StopAsyncIteration`` (where the
    synchronous ones raise ``StopIteration``) and iteration stops.

    **Waiting.** Messages are awaited from the subscriber without blocking
    the loop. An object is read with ``Store.get_async``: on the loop when
    the store's connector reads asynchronously (Redis), else in a worker
    thread. Whatever else may touch a store runs in a worker thread
    (``asyncio.to_thread``): building a store the first time an event names
    it, and, with ``keep`` / ``filter_``, selecting the next object (dropping
    one may evict it from its store). Proxies of stores already known, and
    inline objects, are handed out on the loop with no thread at all.

    **Tasks.** Several tasks may share a consumer: reading is serialized by an
    ``asyncio.Lock`` and each object goes to exactly one of them. A task
    cancelled while it waits loses nothing the broker kept: a message its
    subscriber took stays with the subscriber (the queue and Redis list
    shims keep it, Redis Streams and JetStream leave it pending; a pub/sub
    shim may lose the message being read, as pub/sub loses what a subscriber
    misses), and an object whose selection or read had started in a thread
    is handed to the next call (resolved, if it was being read).

    **Acknowledgements.** Over an acknowledging subscriber
    (``proxyflow.api.AsyncAckingSubscriber``: ``AsyncRedisStreamSubscriber``,
    ``AsyncJetStreamSubscriber``) items are settled as with the synchronous
    consumer's ``ack="auto"`` / ``"manual"``: ``await consumer.ack(item)``,
    ``nack(item, delay)``, ``reject(item)``; ``"auto"`` acknowledges the
    item a *task* was given last when that task asks for the next one. The
    broker's confirmation is awaited before an acknowledged object is
    evicted; ``close()`` settles or gives back what is held. With
    ``drain_group`` (default) on a subscriber with a ``backlog(topic)``
    coroutine, the end also waits until the whole group has drained.

    **End of a work-sharing stream.** Over a work-sharing subscriber (one
    with a ``roster(topic)`` coroutine: ``AsyncQueueSubscriber``,
    ``AsyncRedisQueueSubscriber``...) every consumer ends, with default
    arguments, as a ``StreamConsumer`` does: once the subscriber is idle, the
    roster says every producer that joined the topic has left (at least
    ``producers_per_topic`` joined) and a last look finds no message. The
    roster is awaited when the subscriber is idle (every
    0.05 seconds), never per message.

    **Prefetch.** With ``prefetch=k`` (``k > 0``), the first call of a
    *resolving* method (``next_object``, ``iter_objects`` and their
    ``_with_metadata`` variants) starts an asyncio task that awaits the next
    events and reads their objects (in a worker thread; objects of one store
    already waiting with **one** ``store.get_batch``) while the caller works
    on the current one, keeping up to ``k`` objects ready, as
    ``StreamConsumer(prefetch=k)`` does with a thread. Order is kept; an
    error (a missing object, a bad message, a timeout, the end of the
    stream) is raised in its place in the stream, and the task stops after
    it and starts again on the next call, so it never runs ahead of one.
    ``next()``, ``next_with_metadata()`` and ``async for`` never start the
    task (they hand out unresolved proxies); once it runs, every call is
    served from it (``next()`` then returns objects already read). Without
    acknowledgements, objects are read (and evicted, if their event says
    so) ahead of hand-out, and those read ahead are **lost** if the consumer
    is closed before they are taken; with them, objects are read without
    evicting, evicted when acknowledged, and ``close()`` gives back the
    deliveries of the items read ahead and not handed out. A task cancelled
    while it waits for a prefetched object takes nothing: the next call gets
    it. ``close()`` cancels the prefetch task and waits (up to 10 seconds)
    for a store read it started in a worker thread.

    Args:
        subscriber: The asyncio broker subscriber to read messages from.
        filter_: Metadata predicate; **True drops** the object (ProxyStore's meaning).
        keep: Metadata predicate; True keeps the object. Not with ``filter_``.
        timeout: Seconds to wait for each message; ``None`` waits forever.
            When it expires,
            [`ConsumerTimeoutError`][proxyflow.stream.exceptions.ConsumerTimeoutError]
            is raised; the consumer stays usable.
        topics: The topics whose end ends the stream; default ``subscriber.topics``.
        producers_per_topic: End-of-stream events (from distinct producers)
            that end a topic.
        allowed_connectors: Connector kinds this consumer may build stores
            for; ``None`` allows every installed kind.
        store_overrides: Store name -> store to use instead of rebuilding one.
        on_decode_error: ``"raise"`` or ``"skip"`` bad messages.
        prefetch: Objects the resolving methods keep read ahead by an asyncio
            task (``0``: none, each object is read when asked for).
        on_gap: What to do when a producer's events were lost (fan-out
            subscribers; see ``StreamConsumer``): ``"count"``, ``"warn"`` or
            ``"raise"``. Work-sharing subscribers (with a ``roster``) hand each
            consumer a share, so their sequence numbers are not followed.
        ack: ``"auto"`` or ``"manual"`` (see **Acknowledgements**); only
            with an acknowledging subscriber.
        drain_group: With acknowledgements on a subscriber with ``backlog``, end
            only once the group's backlog is empty (``False``: once this consumer settled).
        trusted_locations: Locations events may name without a signature
            (see ``StreamConsumer``); ``None`` reads
            ``PROXYFLOW_TRUSTED_LOCATIONS``.
        signing_key: The key events must be signed with (``str`` or
            ``bytes``, at least 16 bytes); ``None`` reads
            ``PROXYFLOW_SIGNING_KEY``, and when that is unset events are not
            checked.

    Raises:
        ValueError: If ``producers_per_topic`` has a count below 1,
            ``on_decode_error`` or ``ack`` is unknown, ``prefetch`` is
            negative, a trusted location is malformed or the signing key is
            too short.
        AcknowledgementsUnavailableError: If ``ack="manual"`` and the
            subscriber does not acknowledge.
        TypeError: If both ``keep`` and ``filter_`` are given, or
            ``subscriber.next_message`` is not a coroutine function (use
            ``StreamConsumer`` with a synchronous subscriber).

    Example:
        ```python
        import asyncio

        from proxyflow.shims.queue import AsyncQueuePublisher, AsyncQueueSubscriber
        from proxyflow.stream import AsyncStreamConsumer, AsyncStreamProducer


        async def main() -> list[int]:
            q: asyncio.Queue[bytes] = asyncio.Queue()
            async with AsyncStreamProducer(AsyncQueuePublisher({"numbers": q})) as producer:
                for i in range(3):
                    await producer.send("numbers", i * 10)
                await producer.close_topics("numbers")
            subscriber = AsyncQueueSubscriber(q, topics=["numbers"])
            async with AsyncStreamConsumer(subscriber, timeout=5) as consumer:
                return [item + 1 async for item in consumer]


        assert asyncio.run(main()) == [1, 11, 21]
        ```
    """

    def __init__(
        self,
        subscriber: AsyncSubscriber,
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
        chosen = selection(keep, filter_, "AsyncStreamConsumer")
        check_options(ack, on_decode_error, prefetch)
        check_async(subscriber, "next_message", "proxyflow.api.AsyncSubscriber", "StreamConsumer")
        self._topics = stream_topics(subscriber, topics)
        self._subscriber = subscriber
        self._timeout = timeout
        mac_key = _mac_key(signing_key)
        self.stats = ConsumerStats()
        """Counters of decoded events, objects, skipped and filtered messages, and deliveries."""
        self._ack_mode: AckMode = ack
        acking = inspect.iscoroutinefunction(getattr(subscriber, "next_delivery", None))
        require_acking(
            ack, acking, subscriber, "AsyncRedisStreamSubscriber or AsyncJetStreamSubscriber"
        )
        self._acks = AsyncAckTracker(ack, self.stats) if acking else None
        # Awaits messages; on work-sharing, ends topics by their rosters when idle.
        self._receiver = AsyncReceiver(subscriber, self._acks, timeout, self._topics)
        # The reader never waits itself here (``accept`` only): the receiver awaits.
        self._reader = event_reader(
            cast(Subscriber, subscriber),
            timeout,
            self._receiver.ending(producers_per_topic),
            on_decode_error=on_decode_error,
            stats=self.stats,
            on_gap=on_gap,
            acks=self._acks,
            mac_key=mac_key,
            topics=self._topics,
        )
        self._receiver.reader = self._reader
        if callable(getattr(subscriber, "roster", None)):
            # Work-sharing: each consumer gets a share of the sequence numbers.
            self._reader.tracker = None
        self._resolver = store_resolver(
            allowed_connectors, store_overrides, trusted_locations, mac_key
        )
        self._filters = chosen.predicate is not None
        self._source = ObjectSource(self._reader, self._resolver, chosen, self.stats, self._acks)
        self._source.drain = group_drain(
            subscriber, self._reader.ending, self._acks, timeout, drain_group, asynchronous=True
        )
        self._lock = asyncio.Lock()
        self._held: deque[asyncio.Future[Any]] = deque()  # work of cancelled calls
        self._closed = False
        self._prefetcher = (
            AsyncPrefetcher(prefetch, self._fill, "proxyflow-async-prefetch") if prefetch else None
        )
        self._probes = ProbeBackoff()  # prefetch: which fills probe the subscriber

    @property
    def subscriber(self) -> AsyncSubscriber:
        """The asyncio broker subscriber this consumer reads events from."""
        return self._subscriber

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics whose end ends this stream."""
        return self._topics

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._closed

    @property
    def acknowledges(self) -> bool:
        """Whether items are acknowledged (the subscriber is an ``AsyncAckingSubscriber``)."""
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
            and not self._held
            and (self._prefetcher is None or not self._prefetcher.waiting)
            and end_wait(reader, self._acks, self._source.drain) is None
        )

    async def next_with_metadata(self) -> tuple[dict[str, Any], Proxy[T] | T]:
        """Return the next object's metadata and a proxy of it (or the object, if inline).

        Raises:
            StopAsyncIteration: If the stream has ended.
            ConsumerTimeoutError: If no message arrived within ``timeout``.
            ConsumerClosedError: If the consumer is closed.
            EventDecodeError: On a bad message with ``on_decode_error="raise"``.
            ConnectorNotAllowedError: If the event's connector kind is not allowed.
        """
        return await self._next_item(resolve=False)

    async def next(self) -> Proxy[T] | T:
        """Return the next proxy (or inline object), without its metadata.

        ``async for`` calls it. See `next_with_metadata`.
        """
        return (await self._next_item(resolve=False))[1]  # type: ignore[no-any-return]

    __anext__ = next

    async def next_object_with_metadata(self) -> tuple[dict[str, Any], T]:
        """Return the next object's metadata and the object, read now.

        The object is read with ``await store.get_async(key, evict=...)`` (on
        the loop for a Redis store, in a worker thread otherwise), evicting
        it when its event says so.

        Raises:
            StreamObjectMissingError: If the key no longer holds an object.
            StopAsyncIteration: If the stream has ended.
            ConsumerTimeoutError: If no message arrived within ``timeout``.
            ConsumerClosedError: If the consumer is closed.
            EventDecodeError: On a bad message with ``on_decode_error="raise"``.
            ConnectorNotAllowedError: If the event's connector kind is not allowed.
        """
        return await self._next_item(resolve=True)

    async def next_object(self) -> T:
        """Return the next object, read now, without its metadata."""
        return (await self._next_item(resolve=True))[1]  # type: ignore[no-any-return]

    async def iter_with_metadata(self) -> AsyncIterator[tuple[dict[str, Any], Proxy[T] | T]]:
        """Iterate over ``(metadata, proxy or inline object)`` until the stream ends."""
        async for pair in async_until_end(self.next_with_metadata):
            yield pair

    async def iter_objects(self) -> AsyncIterator[T]:
        """Iterate over objects read now until the stream ends."""
        async for obj in async_until_end(self.next_object):
            yield obj

    async def iter_objects_with_metadata(self) -> AsyncIterator[tuple[dict[str, Any], T]]:
        """Iterate over ``(metadata, object read now)`` until the stream ends."""
        async for pair in async_until_end(self.next_object_with_metadata):
            yield pair

    def __aiter__(self) -> AsyncStreamConsumer[T]:
        return self

    # -- closing ---------------------------------------------------------------------------

    async def close(self, *, stores: bool = True, subscriber: bool = True) -> None:
        """Release the subscriber and the stores this consumer built (in a thread).

        See [`StreamConsumer.close`][proxyflow.stream.consumer.StreamConsumer.close]:
        only stores built from event configs are closed, and closing never
        deletes stored objects. A task waiting in ``next()`` meanwhile ends
        the stream (``StopAsyncIteration``) once the subscriber notices the
        close. Calling it again does nothing; other calls then raise
        [`ConsumerClosedError`][proxyflow.stream.exceptions.ConsumerClosedError].
        With ``prefetch``, the prefetch task is cancelled first (a task
        waiting for a prefetched object ends the stream) and objects read
        ahead are dropped; with acknowledgements their deliveries are given back.

        Args:
            stores: Whether to close the stores this consumer built.
            subscriber: Whether to close the subscriber.
        """
        if self._closed:
            return
        self._closed = True
        self._source.closed = True
        if self._prefetcher is not None:
            await self._stop_prefetch(self._prefetcher)  # before the books give items back
        if self._acks is not None:
            self._acks.close(Outcome.ACK if self._ack_mode == "auto" else Outcome.NACK)
            await self._acks.drain(quiet=True)
        try:
            if subscriber:
                await self._subscriber.close()
        finally:
            await asyncio.to_thread(self._source.release, stores=stores)

    def __repr__(self) -> str:
        return (
            f"AsyncStreamConsumer(topics={self._topics!r}, ended={self.ended}, "
            f"closed={self._closed})"
        )
