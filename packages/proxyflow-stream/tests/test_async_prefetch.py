"""AsyncStreamConsumer(prefetch=k): the asyncio form of test_prefetch (and of its acks cases)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest
from pfs_acking import AsyncMemorySubscriber, MemoryBroker
from pfs_connectors import DelegatingConnector

from proxyflow.proxy import Proxy, is_resolved
from proxyflow.serialize import SerializationError
from proxyflow.shims.queue import AsyncQueuePublisher, AsyncQueueSubscriber
from proxyflow.store import Store
from proxyflow.stream import (
    AsyncStreamConsumer,
    AsyncStreamProducer,
    ConsumerClosedError,
    ConsumerTimeoutError,
    EventDecodeError,
    StreamObjectMissingError,
    StreamProducer,
)
from proxyflow.stream.events import NewObjectKeyEvent, decode_event

TASK_NAME = "proxyflow-async-prefetch"
WAIT = 10.0
"""Seconds any single await of a test may take."""


class GatedConnector(DelegatingConnector):
    """A local connector counting reads; reads wait for ``release`` (set by default)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.release.set()
        self.reading = threading.Event()
        self.reads_done = 0
        self.batch_sizes: list[int] = []

    def _read(self, keys: list[Any], evict: bool) -> list[Any]:
        self.reading.set()
        assert self.release.wait(WAIT)
        try:
            return self.inner.get_batch(keys, evict=evict)
        finally:
            self.reads_done += len(keys)

    def get(self, key: Any, *, evict: bool = False) -> Any:
        return self._read([key], evict)[0]

    def get_batch(self, keys: Any, *, evict: bool = False) -> list[Any]:
        self.batch_sizes.append(len(keys))
        return self._read(list(keys), evict)


@pytest.fixture
def gated() -> GatedConnector:
    return GatedConnector()


@pytest.fixture
def gstore(gated: GatedConnector) -> Iterator[Store]:
    s = Store(f"async-prefetch-{uuid.uuid4().hex[:8]}", gated)
    yield s
    s.close()


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def prefetch_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == TASK_NAME and not t.done()]


class Sender:
    """One producer of topic t into ``q`` (objects with metadata ``{"i": index}``)."""

    def __init__(self, q: asyncio.Queue[Any], store: Store | None) -> None:
        self.q = q
        self.producer: AsyncStreamProducer[Any] = AsyncStreamProducer(
            AsyncQueuePublisher({"t": q}), default_store=store
        )
        self.sent = 0

    async def send(self, objs: list[Any], *, store: Store | None = None) -> list[Any]:
        """Send ``objs``; return the keys of the objects stored (from the queued events)."""
        before = len(self.q._queue)  # type: ignore[attr-defined]
        for obj in objs:
            await self.producer.send("t", obj, metadata={"i": self.sent})
            self.sent += 1
        await self.producer.flush()
        events = [decode_event(m) for m in list(self.q._queue)[before:]]  # type: ignore[attr-defined]
        return [e.key for e in events if isinstance(e, NewObjectKeyEvent)]

    async def close(self) -> None:
        await self.producer.close(topics=["t"], stores=False, publisher=False)


async def produce(q: asyncio.Queue[Any], store: Store | None, objs: list[Any]) -> list[Any]:
    """Send ``objs`` on topic t with one producer, then end the topic; return the stored keys."""
    sender = Sender(q, store)
    keys = await sender.send(objs)
    await sender.close()
    return keys


def consumer(
    q: asyncio.Queue[Any], store: Store | None, **options: Any
) -> AsyncStreamConsumer[Any]:
    options.setdefault("timeout", 5)
    overrides = {} if store is None else {store.name: store}
    return AsyncStreamConsumer(
        AsyncQueueSubscriber(q, topics=["t"]), store_overrides=overrides, **options
    )


async def objects(c: AsyncStreamConsumer[Any]) -> list[Any]:
    async def drain() -> list[Any]:
        return [obj async for obj in c.iter_objects()]

    return await asyncio.wait_for(drain(), WAIT)


def test_order_is_kept_and_reads_are_batched(gstore: Store, gated: GatedConnector) -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        keys = await produce(q, gstore, [{"n": i} for i in range(40)])
        c = consumer(q, gstore, prefetch=8)

        async def drain() -> list[tuple[dict[str, Any], Any]]:
            return [pair async for pair in c.iter_objects_with_metadata()]

        received = await asyncio.wait_for(drain(), WAIT)
        assert [obj["n"] for _, obj in received] == list(range(40))
        assert [md["i"] for md, _ in received] == list(range(40))
        assert gated.batch_sizes  # every event was waiting: reads went through get_batch
        assert max(gated.batch_sizes) <= 8
        assert sum(gated.batch_sizes) > 20
        assert not any(gstore.exists(k) for k in keys)  # read with evict=True
        assert c.stats.objects == 40
        assert c.ended
        await asyncio.wait_for(c.close(), WAIT)
        assert not prefetch_tasks()

    run(body())


def test_errors_surface_in_place_and_later_objects_still_arrive(gstore: Store) -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        sender = Sender(q, gstore)
        keys = await sender.send(["a", "b", "gone", "c"])
        q.put_nowait(b"not an event")
        await sender.send(["d"])
        await sender.close()
        gstore.evict(keys[2])
        c = consumer(q, gstore, prefetch=8)
        take = c.next_object
        assert await asyncio.wait_for(take(), WAIT) == "a"
        assert await asyncio.wait_for(take(), WAIT) == "b"
        with pytest.raises(StreamObjectMissingError):
            await asyncio.wait_for(take(), WAIT)
        assert await asyncio.wait_for(take(), WAIT) == "c"
        with pytest.raises(EventDecodeError):
            await asyncio.wait_for(take(), WAIT)
        assert await asyncio.wait_for(take(), WAIT) == "d"
        for _ in range(2):
            with pytest.raises(StopAsyncIteration):
                await asyncio.wait_for(take(), WAIT)
        assert c.ended
        await asyncio.wait_for(c.close(), WAIT)
        assert not prefetch_tasks()

    run(body())


def test_an_undecodable_object_in_a_batched_read_loses_none_of_the_others(
    gstore: Store, gated: GatedConnector
) -> None:
    class Undecodable:
        def __reduce__(self) -> tuple[Any, ...]:
            return (int, ("not a number",))

    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        await produce(q, gstore, ["a", "b", Undecodable(), "c", "d"])
        c = consumer(q, gstore, prefetch=8)
        assert await asyncio.wait_for(c.next_object(), WAIT) == "a"
        assert await asyncio.wait_for(c.next_object(), WAIT) == "b"
        with pytest.raises(SerializationError):
            await asyncio.wait_for(c.next_object(), WAIT)
        assert await objects(c) == ["c", "d"]
        assert gated.batch_sizes  # the objects were read in a batch
        await asyncio.wait_for(c.close(), WAIT)

    run(body())


def test_timeouts_surface_and_the_consumer_stays_usable(gstore: Store) -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        c = consumer(q, gstore, prefetch=4, timeout=0.05)
        with pytest.raises(ConsumerTimeoutError):
            await asyncio.wait_for(c.next_object(), WAIT)
        await produce(q, gstore, ["late"])
        assert await asyncio.wait_for(c.next_object_with_metadata(), WAIT) == ({"i": 0}, "late")
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(c.next_object(), WAIT)
        await asyncio.wait_for(c.close(), WAIT)

    run(body())


def test_proxies_until_a_resolving_call_then_resolved_objects(gstore: Store) -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        keys = await produce(q, gstore, [[0], [1], [2], [3]])
        c = consumer(q, gstore, prefetch=2)
        first = await asyncio.wait_for(c.next(), WAIT)
        assert isinstance(first, Proxy)
        assert not is_resolved(first)
        assert not prefetch_tasks()  # proxies never start the task
        assert all(gstore.exists(k) for k in keys[1:])  # nothing was read ahead
        assert await asyncio.wait_for(c.next_object(), WAIT) == [1]
        second = await asyncio.wait_for(c.next(), WAIT)
        assert type(second) is list  # served by the task: already read
        assert second == [2]
        assert await asyncio.wait_for(c.next_with_metadata(), WAIT) == ({"i": 3}, [3])
        await asyncio.wait_for(c.close(), WAIT)
        assert first == [0]

    run(body())


def test_inline_objects_are_prefetched_too() -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        await produce(q, None, [b"x", "y", {"z": 1}])
        c = consumer(q, None, prefetch=3)
        assert await objects(c) == [b"x", "y", {"z": 1}]
        await asyncio.wait_for(c.close(), WAIT)

    run(body())


def test_without_acks_no_more_than_prefetch_objects_are_read_ahead(
    gstore: Store, gated: GatedConnector
) -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        keys = await produce(q, gstore, list(range(20)))
        c = consumer(q, gstore, prefetch=4)
        assert await asyncio.wait_for(c.next_object(), WAIT) == 0
        await asyncio.wait_for(c.close(), WAIT)
        # Handed out: 1; read (and evicted, as the events ask) ahead: at most 4 + 1 in flight.
        assert 1 <= gated.reads_done <= 6
        assert sum(not gstore.exists(k) for k in keys) == gated.reads_done
        assert not prefetch_tasks()

    run(body())


def test_a_task_cancelled_while_a_prefetched_read_runs_loses_nothing(
    gstore: Store, gated: GatedConnector
) -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        await produce(q, gstore, ["first", "second", "third"])
        c = consumer(q, gstore, prefetch=2)
        gated.release.clear()
        reader = asyncio.ensure_future(c.next_object())
        assert await asyncio.to_thread(gated.reading.wait, WAIT)
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(reader, WAIT)
        gated.release.set()
        assert await objects(c) == ["first", "second", "third"]
        await asyncio.wait_for(c.close(), WAIT)

    run(body())


def test_a_task_cancelled_while_waiting_for_a_message_loses_nothing() -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        c = consumer(q, None, prefetch=4)
        reader = asyncio.ensure_future(c.next_object())
        for _ in range(1000):  # the task waits on the queue
            if q._getters:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0)
        assert q._getters  # type: ignore[attr-defined]
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(reader, WAIT)
        await produce(q, None, ["a", "b"])
        assert await objects(c) == ["a", "b"]
        await asyncio.wait_for(c.close(), WAIT)

    run(body())


def test_a_task_cancelled_while_it_lets_the_prefetch_task_run_loses_nothing() -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        await produce(q, None, list(range(10)))
        c = consumer(q, None, prefetch=4)
        assert await asyncio.wait_for(c.next_object(), WAIT) == 0
        await read_ahead(c, 4)
        reader = asyncio.ensure_future(c.next_object())
        await asyncio.sleep(0)  # it took 1 and yields so that the task reads on
        assert not reader.done()
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(reader, WAIT)
        assert await objects(c) == list(range(1, 10))
        await asyncio.wait_for(c.close(), WAIT)

    run(body())


def prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(TASK_NAME)]


def test_close_wakes_a_waiting_task_and_stops_the_prefetch_task() -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        c = consumer(q, None, prefetch=4, timeout=None)  # waits forever for messages
        reader = asyncio.ensure_future(c.next_object())
        for _ in range(1000):
            if prefetch_tasks() and q._getters:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0)
        assert prefetch_tasks()
        await asyncio.wait_for(c.close(), WAIT)
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(reader, WAIT)
        assert not prefetch_tasks()
        assert not prefetch_threads()
        with pytest.raises(ConsumerClosedError):
            await c.next_object()

    run(body())


def test_close_waits_for_a_read_in_flight(gstore: Store, gated: GatedConnector) -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        await produce(q, gstore, list(range(6)))
        c = consumer(q, gstore, prefetch=4)
        gated.release.clear()
        reader = asyncio.ensure_future(c.next_object())
        assert await asyncio.to_thread(gated.reading.wait, WAIT)
        closing = asyncio.ensure_future(c.close())
        done, _ = await asyncio.wait({closing}, timeout=0.2)
        assert not done  # the store read is not abandoned: close waits for it
        gated.release.set()
        await asyncio.wait_for(closing, WAIT)
        assert gated.reads_done >= 1
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(reader, WAIT)
        assert not prefetch_tasks()
        assert not prefetch_threads()  # the read thread ended with the close

    run(body())


def test_prefetch_must_not_be_negative() -> None:
    async def body() -> None:
        with pytest.raises(ValueError, match="prefetch"):
            consumer(asyncio.Queue(), None, prefetch=-1)

    run(body())


@pytest.mark.parametrize("prefetch", [0, 1, 4])
def test_every_prefetch_gives_the_same_stream(gstore: Store, prefetch: int) -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        await produce(q, gstore, [f"o{i}" for i in range(9)])
        await produce(q, None, ["inline"])
        c = consumer(q, gstore, prefetch=prefetch, producers_per_topic=2)
        assert await objects(c) == [f"o{i}" for i in range(9)] + ["inline"]
        assert c.stats.objects == 10
        assert c.ended
        await asyncio.wait_for(c.close(), WAIT)

    run(body())


def test_prefetch_zero_reads_each_object_when_asked(gstore: Store, gated: GatedConnector) -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        keys = await produce(q, gstore, list(range(5)))
        c = consumer(q, gstore)
        assert c._prefetcher is None
        assert await asyncio.wait_for(c.next_object(), WAIT) == 0
        assert not prefetch_tasks()
        assert [gstore.exists(k) for k in keys] == [False] + [True] * 4  # nothing read ahead
        assert gated.batch_sizes == []  # one get per object
        await asyncio.wait_for(c.close(), WAIT)

    run(body())


# -- with acknowledgements ---------------------------------------------------------------------


def produce_acked(broker: MemoryBroker, store: Store, count: int, *, end: bool = True) -> list[Any]:
    """Send ``count`` objects (evicted when acknowledged) to the broker; return their keys."""
    producer = StreamProducer(broker, stores={"t": store})
    for i in range(count):
        producer.send("t", i, evict=True, metadata={"i": i})
    producer.flush()
    with broker._cond:
        messages = [m for _, m, _ in broker._ready]
    if end:
        producer.close(topics=["t"], stores=False)
    return [decode_event(m).key for m in messages]  # type: ignore[attr-defined]


def acking(broker: MemoryBroker, store: Store, **options: Any) -> AsyncStreamConsumer[Any]:
    return AsyncStreamConsumer(
        AsyncMemorySubscriber(broker.subscriber("t")),
        store_overrides={store.name: store},
        timeout=5,
        **options,
    )


async def read_ahead(c: AsyncStreamConsumer[Any], count: int) -> None:
    """Return once ``count`` objects wait, read ahead, and the task waits for room (bounded)."""
    for _ in range(1000):
        prefetcher = c._prefetcher
        if prefetcher is not None and prefetcher.waiting == count and prefetcher._blocked:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the prefetch task did not fill its queue")


def test_with_acks_objects_are_evicted_only_when_acknowledged(gstore: Store) -> None:
    broker = MemoryBroker()
    keys = produce_acked(broker, gstore, 8)

    async def body() -> None:
        c = acking(broker, gstore, ack="manual", prefetch=4)
        got = [await asyncio.wait_for(c.next_object(), WAIT) for _ in range(8)]
        assert got == list(range(8))
        assert all(gstore.exists(k) for k in keys)  # read ahead without evicting
        for obj in got[:5]:
            await asyncio.wait_for(c.ack(obj), WAIT)
        assert [gstore.exists(k) for k in keys] == [False] * 5 + [True] * 3
        for obj in got[5:]:
            await asyncio.wait_for(c.ack(obj), WAIT)
        assert await objects(c) == []
        assert not any(gstore.exists(k) for k in keys)
        await asyncio.wait_for(c.close(), WAIT)

    run(body())
    assert len(broker.acked) == 9  # the objects and the end of stream


@pytest.mark.parametrize("mode", ["manual", "auto"])
def test_with_acks_close_gives_back_what_was_read_ahead(gstore: Store, mode: str) -> None:
    broker = MemoryBroker()
    keys = produce_acked(broker, gstore, 8, end=False)

    async def body() -> None:
        c = acking(broker, gstore, ack=mode, prefetch=4)
        first = await asyncio.wait_for(c.next_object(), WAIT)
        assert first == 0
        await read_ahead(c, 4)  # 1 taken, 4 read ahead: no message is in flight
        await asyncio.wait_for(c.close(), WAIT)

    run(body())
    handed_out = 1 if mode == "auto" else 0  # auto acknowledges what was handed out
    assert len(broker.acked) == handed_out
    assert broker.held == []
    assert broker.waiting == 8 - handed_out  # everything else given back, nothing lost
    assert sum(gstore.exists(k) for k in keys) == 8 - handed_out
