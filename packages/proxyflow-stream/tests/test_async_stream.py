"""AsyncStreamProducer and AsyncStreamConsumer over the asyncio queue shim."""

from __future__ import annotations

import asyncio
import queue
import threading
import uuid
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest
from pfs_connectors import DelegatingConnector

from proxyflow.proxy import Proxy, is_resolved, resolve_async
from proxyflow.shims.queue import (
    AsyncQueuePublisher,
    AsyncQueueSubscriber,
    QueuePublisher,
    QueueSubscriber,
)
from proxyflow.store import Store
from proxyflow.stream import (
    AsyncStreamConsumer,
    AsyncStreamProducer,
    ConsumerClosedError,
    ConsumerTimeoutError,
    EventDecodeError,
    ProducerClosedError,
    StreamConsumer,
    StreamObjectMissingError,
    StreamProducer,
    TopicClosedError,
)
from proxyflow.stream.events import EndOfStreamEvent, NewObjectKeyEvent, decode_event


async def waiting_on(q: asyncio.Queue[Any]) -> None:
    """Return once a task waits in ``q.get()`` (bounded: the loop runs other tasks meanwhile)."""
    for _ in range(1000):
        if q._getters:  # type: ignore[attr-defined]
            return
        await asyncio.sleep(0)
    raise AssertionError("nobody waits on the queue")


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


class ThreadSpy(DelegatingConnector):
    """A LocalConnector recording the thread of every storage call.

    ``get`` may wait for ``release``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[tuple[str, int]] = []
        self.release = threading.Event()
        self.release.set()
        self.reading = threading.Event()

    def put(self, data: Any) -> Any:
        self.threads.append(("put", threading.get_ident()))
        return super().put(data)

    def put_batch(self, datas: Any) -> list[Any]:
        self.threads.append(("put_batch", threading.get_ident()))
        return super().put_batch(datas)

    def get(self, key: Any, *, evict: bool = False) -> Any:
        self.threads.append(("get", threading.get_ident()))
        self.reading.set()
        assert self.release.wait(10)
        return super().get(key, evict=evict)

    def evict(self, key: Any) -> None:
        self.threads.append(("evict", threading.get_ident()))
        super().evict(key)

    def get_batch(self, keys: Any, *, evict: bool = False) -> list[Any]:
        return [self.get(key, evict=evict) for key in keys]


@pytest.fixture
def tspy() -> ThreadSpy:
    return ThreadSpy()


@pytest.fixture
def tstore(tspy: ThreadSpy) -> Iterator[Store]:
    s = Store(f"async-stream-{uuid.uuid4().hex[:8]}", tspy)
    yield s
    s.close()


def pair(
    q: asyncio.Queue[Any], store: Store | None, topics: tuple[str, ...] = ("t",), **options: Any
) -> tuple[AsyncStreamProducer[Any], AsyncStreamConsumer[Any]]:
    producer: AsyncStreamProducer[Any] = AsyncStreamProducer(
        AsyncQueuePublisher(dict.fromkeys(topics, q)), default_store=store, **options
    )
    overrides = {} if store is None else {store.name: store}
    consumer: AsyncStreamConsumer[Any] = AsyncStreamConsumer(
        AsyncQueueSubscriber(q, topics=topics[:1]), timeout=5, store_overrides=overrides
    )
    return producer, consumer


def test_round_trip_of_stored_objects_with_metadata(tstore: Store, tspy: ThreadSpy) -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        producer, consumer = pair(q, tstore)
        for i in range(4):
            await producer.send("t", {"i": i}, metadata={"i": i})
        await producer.close(topics=["t"], stores=False)
        received = [(md, item) async for md, item in consumer.iter_with_metadata()]
        assert all(isinstance(item, Proxy) and not is_resolved(item) for _, item in received)
        assert [(md["i"], await resolve_async(item)) for md, item in received] == [
            (i, {"i": i}) for i in range(4)
        ]
        assert consumer.ended
        assert consumer.stats.objects == 4
        assert consumer.stats.events == 5
        loop_thread = threading.get_ident()
        assert tspy.threads
        assert all(thread != loop_thread for _, thread in tspy.threads)
        await consumer.close()

    run(body())


def test_inline_batches_and_aggregation() -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        producer, consumer = pair(q, None, batch_size=3)
        for i in range(7):
            await producer.send("t", i)
        await producer.close(topics=["t"])
        assert [item async for item in consumer] == list(range(7))
        q2: asyncio.Queue[Any] = asyncio.Queue()
        producer, consumer = pair(q2, None, batch_size=2, aggregator=sum)
        for i in range(5):
            await producer.send("t", i, metadata={"last": i})
        await producer.close(topics=["t"])
        assert [pair_ async for pair_ in consumer.iter_objects_with_metadata()] == [
            ({"last": 1}, 1),
            ({"last": 3}, 5),
            ({"last": 4}, 4),
        ]

    run(body())


def test_stored_batches_go_through_one_put_batch(tstore: Store, tspy: ThreadSpy) -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        producer, consumer = pair(q, tstore, batch_size=4)
        for i in range(8):
            await producer.send("t", f"object {i}")
        await producer.close(topics=["t"], stores=False)
        assert [obj async for obj in consumer.iter_objects()] == [f"object {i}" for i in range(8)]
        assert [name for name, _ in tspy.threads if name.startswith("put")] == ["put_batch"] * 2

    run(body())


def test_the_wire_format_is_the_synchronous_one(store: Store) -> None:
    """Events of the asyncio producer are read by StreamConsumer, and the other way round."""

    async def produce(q: asyncio.Queue[Any]) -> None:
        async with AsyncStreamProducer(
            AsyncQueuePublisher({"t": q}), default_store=store, producer_id=b"p"
        ) as producer:
            for i in range(3):
                await producer.send("t", i * 10)
            await producer.close_topics("t")

    aq: asyncio.Queue[Any] = asyncio.Queue()
    produced_async = []

    async def produce_and_drain() -> None:
        await produce(aq)
        while not aq.empty():
            produced_async.append(aq.get_nowait())

    # The producer closes its stores on exit: reopen a store of the same name for reading.
    run(produce_and_drain())
    sync_q: queue.Queue[Any] = queue.Queue()
    reader_store = Store(store.name, store.connector)
    try:
        with StreamProducer(
            QueuePublisher({"t": sync_q}), default_store=reader_store, producer_id=b"p"
        ) as sync_producer:
            for i in range(3):
                sync_producer.send("t", i * 10)
            sync_producer.close_topics("t")
    finally:
        pass
    produced_sync = []
    while not sync_q.empty():
        produced_sync.append(sync_q.get_nowait())
    shapes_async = [type(decode_event(m)) for m in produced_async]
    shapes_sync = [type(decode_event(m)) for m in produced_sync]
    assert shapes_async == shapes_sync == [NewObjectKeyEvent] * 3 + [EndOfStreamEvent]
    assert [decode_event(m).seq for m in produced_async] == [0, 1, 2, 3]  # type: ignore[union-attr]

    # The synchronous consumer reads the asyncio producer's inline events.
    async def produce_inline(q: asyncio.Queue[Any]) -> None:
        async with AsyncStreamProducer(AsyncQueuePublisher({"t": q})) as producer:
            await producer.send("t", "hello", metadata={"k": 1})
            await producer.close_topics("t")

    inline_q: asyncio.Queue[Any] = asyncio.Queue()
    run(produce_inline(inline_q))
    bridge: queue.Queue[Any] = queue.Queue()
    while not inline_q.empty():
        bridge.put(inline_q.get_nowait())
    with StreamConsumer(QueueSubscriber(bridge, topics=["t"]), timeout=5) as sync_consumer:
        assert list(sync_consumer.iter_with_metadata()) == [({"k": 1}, "hello")]

    # The asyncio consumer reads the synchronous producer's events.
    async def consume() -> list[Any]:
        aq2: asyncio.Queue[Any] = asyncio.Queue()
        for message in produced_sync:
            aq2.put_nowait(message)
        async with AsyncStreamConsumer(AsyncQueueSubscriber(aq2, topics=["t"]), timeout=5) as c:
            return [obj async for obj in c.iter_objects()]

    store.close()
    assert run(consume()) == [0, 10, 20]


def test_filters_drop_and_evict(tstore: Store, tspy: ThreadSpy) -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        producer: AsyncStreamProducer[Any] = AsyncStreamProducer(
            AsyncQueuePublisher({"t": q}), default_store=tstore, keep=lambda md: md["i"] != 1
        )
        for i in range(4):
            await producer.send("t", i, metadata={"i": i})
        await producer.close(topics=["t"], stores=False)
        assert q.qsize() == 4  # one object dropped by the producer, never stored
        consumer: AsyncStreamConsumer[Any] = AsyncStreamConsumer(
            AsyncQueueSubscriber(q, topics=["t"]),
            timeout=5,
            filter_=lambda md: md["i"] == 2,
            store_overrides={tstore.name: tstore},
        )
        assert [obj async for obj in consumer.iter_objects()] == [0, 3]
        assert consumer.stats.filtered == 1
        assert [name for name, _ in tspy.threads].count("evict") == 1  # the dropped one
        assert tspy.inner.stats()["objects"] == 0  # type: ignore[attr-defined]

    run(body())


def test_end_of_stream_needs_every_producer() -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        first = AsyncStreamProducer(AsyncQueuePublisher({"t": q}))
        second = AsyncStreamProducer(AsyncQueuePublisher({"t": q}))
        consumer: AsyncStreamConsumer[Any] = AsyncStreamConsumer(
            AsyncQueueSubscriber(q, topics=["t"]), timeout=5, producers_per_topic=2
        )
        await first.send("t", "a")
        await first.close(topics=["t"])
        assert await consumer.next() == "a"
        assert not consumer.ended
        await second.send("t", "b")
        await second.close(topics=["t"])
        assert await consumer.next() == "b"
        with pytest.raises(StopAsyncIteration):
            await consumer.next()
        assert consumer.ended

    run(body())


def test_timeout_then_still_usable_and_closing() -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        producer = AsyncStreamProducer(AsyncQueuePublisher({"t": q}))
        consumer: AsyncStreamConsumer[Any] = AsyncStreamConsumer(
            AsyncQueueSubscriber(q, topics=["t"]), timeout=0.05
        )
        with pytest.raises(ConsumerTimeoutError):
            await consumer.next()
        await producer.send("t", "late")
        assert await consumer.next() == "late"
        await consumer.close()
        with pytest.raises(ConsumerClosedError):
            await consumer.next()
        await consumer.close()  # idempotent
        await producer.close()
        with pytest.raises(ProducerClosedError):
            await producer.send("t", "after close")

    run(body())


def test_close_from_another_task_ends_the_stream() -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        consumer: AsyncStreamConsumer[Any] = AsyncStreamConsumer(
            AsyncQueueSubscriber(q, topics=["t"]), timeout=None
        )

        async def read_all() -> list[Any]:
            return [item async for item in consumer]

        reader = asyncio.ensure_future(read_all())
        await waiting_on(q)
        await consumer.close()
        assert await reader == []

    run(body())


def test_topic_closed_and_partial_batch_flushed_on_close() -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        producer, consumer = pair(q, None, ("t", "u"), batch_size=10)
        await producer.send("t", 1)
        await producer.close_topics("t")
        with pytest.raises(TopicClosedError):
            await producer.send("t", 2)
        await producer.send("u", 3)  # buffered: flushed by close
        await producer.close()
        # A work-sharing consumer of t ends by t's roster once the queue is
        # idle, so it also takes u's batch, which close() flushed.
        assert [item async for item in consumer] == [1, 3]
        assert q.qsize() == 0

    run(body())


def test_sequence_numbers_stay_in_order_across_tasks(tstore: Store) -> None:
    async def body() -> list[int]:
        q: asyncio.Queue[Any] = asyncio.Queue()
        producer = AsyncStreamProducer(AsyncQueuePublisher({"t": q}), default_store=tstore)
        await asyncio.gather(*(producer.send("t", i) for i in range(20)))
        await producer.close(stores=False)
        seqs = []
        while not q.empty():
            seqs.append(decode_event(q.get_nowait()).seq)  # type: ignore[union-attr]
        return seqs

    assert run(body()) == list(range(20))


def test_synchronous_shims_are_refused(q: queue.Queue[Any]) -> None:
    with pytest.raises(TypeError, match="use StreamProducer"):
        AsyncStreamProducer(QueuePublisher({"t": q}))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="use StreamConsumer"):
        AsyncStreamConsumer(QueueSubscriber(q, topics=["t"]))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not both"):
        AsyncStreamConsumer(
            AsyncQueueSubscriber(asyncio.Queue()), keep=lambda md: True, filter_=lambda md: True
        )
    with pytest.raises(ValueError, match="batch_size"):
        AsyncStreamProducer(AsyncQueuePublisher({"t": asyncio.Queue()}), batch_size=0)


def test_bad_messages_raise_or_are_skipped() -> None:
    async def body() -> None:
        for mode in ("raise", "skip"):
            q: asyncio.Queue[Any] = asyncio.Queue()
            producer = AsyncStreamProducer(AsyncQueuePublisher({"t": q}))
            q.put_nowait(b"not an event")
            await producer.send("t", "good")
            await producer.close(topics=["t"])
            consumer: AsyncStreamConsumer[Any] = AsyncStreamConsumer(
                AsyncQueueSubscriber(q, topics=["t"]), timeout=5, on_decode_error=mode
            )
            if mode == "raise":
                with pytest.raises(EventDecodeError):
                    await consumer.next()
            assert [item async for item in consumer] == ["good"]
            assert consumer.stats.skipped_bad_messages == (1 if mode == "skip" else 0)

    run(body())


def test_next_object_evicts_and_reports_a_missing_object(tstore: Store, tspy: ThreadSpy) -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        producer, consumer = pair(q, tstore)
        await producer.send("t", "kept", evict=False)
        await producer.send("t", "gone")
        await producer.send("t", "missing")
        await producer.close(topics=["t"], stores=False)
        assert await consumer.next_object_with_metadata() == ({}, "kept")
        assert await consumer.next_object() == "gone"
        assert tspy.inner.stats()["objects"] == 2  # type: ignore[attr-defined]
        for key in list(tspy.inner._shelf.objects):
            value = tspy.inner.get(key)
            if value is not None and b"missing" in bytes(value):
                tspy.inner.evict(key)
        with pytest.raises(StreamObjectMissingError):
            await consumer.next_object()

    run(body())


def test_a_cancelled_read_is_handed_to_the_next_call(tstore: Store, tspy: ThreadSpy) -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        producer, consumer = pair(q, tstore)
        for word in ("first", "second"):
            await producer.send("t", word)
        await producer.close(topics=["t"], stores=False)
        tspy.release.clear()
        reader = asyncio.ensure_future(consumer.next_object())
        assert await asyncio.to_thread(tspy.reading.wait, 10)
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        tspy.release.set()
        assert [obj async for obj in consumer.iter_objects()] == ["first", "second"]

    run(body())
