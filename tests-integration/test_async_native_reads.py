"""The asyncio consumer reads Redis-stored objects on the event loop (real Redis).

``AsyncStreamConsumer.next_object`` / ``iter_objects`` read an object with
``Store.get_async``: for a Redis store that is ``RedisConnector.get_async``
on the running loop, and the synchronous ``get`` (which would need a worker
thread) is never called. Evictions, acknowledgements, content digests and a
cancelled read keep their meaning.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from proxyflow.serialize import serialize
from proxyflow.store import Store
from proxyflow.store.registry import unregister_store
from proxyflow.stream import AsyncStreamConsumer, AsyncStreamProducer, TamperedObjectError

redis = pytest.importorskip("redis")
pytestmark = pytest.mark.timeout(60)

COUNT = 12


class Reads:
    """Counts the Redis connector's reads; the synchronous one fails the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from proxyflow.connectors.redis import RedisConnector

        self.native = 0
        self.started = asyncio.Event()
        self.gate: asyncio.Event | None = None
        get_async = RedisConnector.get_async

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("the synchronous get was called")

        async def counted(connector: Any, key: str, *, evict: bool = False) -> Any:
            self.native += 1
            self.started.set()
            if self.gate is not None:
                await asyncio.wait_for(self.gate.wait(), 20)
            return await get_async(connector, key, evict=evict)

        monkeypatch.setattr(RedisConnector, "get", refuse)
        monkeypatch.setattr(RedisConnector, "get_async", counted)


@pytest.fixture
def redis_store(redis_url: str) -> Iterator[Store]:
    from proxyflow.connectors.redis import RedisConnector

    name = f"native-{uuid.uuid4().hex[:8]}"
    store = Store(name, RedisConnector(redis_url, prefix=f"{name}:"))
    yield store
    store.close()
    unregister_store(name)


def _stored(redis_url: str, store: Store) -> int:
    """How many objects the store's prefix holds in Redis."""
    prefix: str = store.connector.prefix  # type: ignore[attr-defined]
    client = redis.Redis.from_url(redis_url)
    try:
        return sum(1 for _ in client.scan_iter(match=prefix + "*"))
    finally:
        client.close()


def _objects() -> list[Any]:
    return [{"i": i, "payload": bytes(i * 1000)} if i % 2 else b"x" * (i + 1) for i in range(COUNT)]


def _run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 40))


async def _queue_pair(store: Store, **consumer: Any) -> tuple[Any, AsyncStreamConsumer[Any]]:
    from proxyflow.shims.queue import AsyncQueuePublisher, AsyncQueueSubscriber

    q: asyncio.Queue[Any] = asyncio.Queue()
    producer = AsyncStreamProducer(AsyncQueuePublisher({"t": q}), stores={"t": store}, **consumer)
    subscriber = AsyncQueueSubscriber(q, topics=["t"])
    return producer, AsyncStreamConsumer(subscriber, timeout=10, **consumer)


def test_objects_are_read_on_the_loop_and_evicted(
    redis_store: Store, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = Reads(monkeypatch)

    async def body() -> list[Any]:
        producer, consumer = await _queue_pair(redis_store)
        async with producer, consumer:
            for obj in _objects():
                await producer.send("t", obj, evict=True)
            await producer.close(topics=["t"])
            return [obj async for obj in consumer.iter_objects()]

    assert _run(body()) == _objects()
    assert reads.native == COUNT
    assert _stored(redis_url, redis_store) == 0  # every object was evicted as it was read


def test_a_cancelled_read_is_handed_to_the_next_call(
    redis_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = Reads(monkeypatch)

    async def body() -> list[Any]:
        reads.gate = asyncio.Event()
        producer, consumer = await _queue_pair(redis_store)
        async with producer, consumer:
            for obj in _objects():
                await producer.send("t", obj, evict=True)
            await producer.close(topics=["t"])
            first = asyncio.ensure_future(consumer.next_object())
            await asyncio.wait_for(reads.started.wait(), 10)
            first.cancel()
            with pytest.raises(asyncio.CancelledError):
                await first
            reads.gate.set()  # the read goes on in its own task
            return [obj async for obj in consumer.iter_objects()]

    assert _run(body()) == _objects()  # nothing lost, order kept
    assert reads.native == COUNT


def test_a_tampered_object_is_refused_before_it_is_loaded(
    redis_store: Store, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Reads(monkeypatch)
    key_of: dict[str, str] = {}
    put = redis_store.put_digested

    def recording_put(obj: Any) -> Any:
        key, digest = put(obj)
        key_of["key"] = key
        return key, digest

    monkeypatch.setattr(redis_store, "put_digested", recording_put)

    async def body() -> None:
        producer, consumer = await _queue_pair(redis_store, signing_key=b"k" * 32)
        async with producer, consumer:
            await producer.send("t", {"amount": 10})
            client = redis.Redis.from_url(redis_url)
            try:
                prefix = redis_store.connector.prefix  # type: ignore[attr-defined]
                name = prefix + key_of["key"]
                assert client.set(name, serialize({"amount": 10_000}))
            finally:
                client.close()
            with pytest.raises(TamperedObjectError):
                await consumer.next_object()

    _run(body())


def test_acknowledged_objects_are_read_without_evicting_then_evicted(
    redis_store: Store, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from proxyflow.shims.redis import AsyncRedisStreamPublisher, AsyncRedisStreamSubscriber

    reads = Reads(monkeypatch)
    prefix = f"native-acks-{uuid.uuid4().hex[:8]}:"

    async def body() -> list[Any]:
        publisher = await AsyncRedisStreamPublisher(redis_url, prefix=prefix).open()
        subscriber = await AsyncRedisStreamSubscriber(
            redis_url, ["t"], group="g", prefix=prefix, visibility_timeout=30
        ).open()
        producer = AsyncStreamProducer(publisher, stores={"t": redis_store})
        consumer = AsyncStreamConsumer(subscriber, timeout=10, ack="manual")
        got = []
        async with producer, consumer:
            for obj in _objects():
                await producer.send("t", obj, evict=True)
            await producer.close(topics=["t"])
            async for obj in consumer.iter_objects():
                assert _stored(redis_url, redis_store) == COUNT - len(got)  # kept until acked
                await consumer.ack(obj)
                got.append(obj)
        return got

    assert _run(body()) == _objects()
    assert reads.native == COUNT
    assert _stored(redis_url, redis_store) == 0
