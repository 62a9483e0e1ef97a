"""Acknowledgements of the asyncio stream over Redis Streams and NATS JetStream (real servers)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from proxyflow.connectors.file import FileConnector
from proxyflow.proxy import resolve_async
from proxyflow.shims.queue import AsyncQueueSubscriber
from proxyflow.store import Store
from proxyflow.stream import (
    AcknowledgementsUnavailableError,
    AsyncStreamConsumer,
    AsyncStreamProducer,
    ItemNotHeldError,
)

Make = Callable[[], Awaitable[Any]]


async def _delete_stream(url: str, name: str) -> None:
    import nats
    import nats.js.errors

    client = await nats.connect(url, allow_reconnect=False, connect_timeout=2)
    try:
        await client.jetstream().delete_stream(name)
    except nats.js.errors.NotFoundError:
        pass
    finally:
        await client.close()


@pytest.fixture(params=["redis-streams", "jetstream"])
def acking(request: pytest.FixtureRequest) -> Iterator[tuple[Make, Make, str]]:
    """(publisher factory, subscriber factory, topic) of an acknowledging broker."""
    topic = f"acks-{uuid.uuid4().hex[:10]}"
    if request.param == "redis-streams":
        from proxyflow.shims.redis import AsyncRedisStreamPublisher, AsyncRedisStreamSubscriber

        url = request.getfixturevalue("redis_url")
        prefix = f"acks-{uuid.uuid4().hex[:8]}:"

        async def publisher() -> Any:
            return await AsyncRedisStreamPublisher(url, prefix=prefix).open()

        async def subscriber() -> Any:
            return await AsyncRedisStreamSubscriber(
                url, [topic], group="g", prefix=prefix, visibility_timeout=30
            ).open()

        yield publisher, subscriber, topic
    else:
        from proxyflow.shims.nats import AsyncJetStreamPublisher, AsyncJetStreamSubscriber

        url = request.getfixturevalue("nats_url")
        stream = f"K{uuid.uuid4().hex[:16]}"

        async def publisher() -> Any:
            return await AsyncJetStreamPublisher(url, stream=stream).open()

        async def subscriber() -> Any:
            return await AsyncJetStreamSubscriber(
                url, [topic], durable="g", stream=stream, ack_wait=30
            ).open()

        yield publisher, subscriber, topic
        asyncio.run(_delete_stream(url, stream))


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_manual_ack_nack_reject(acking: tuple[Make, Make, str], tmp_path: Path) -> None:
    """Acknowledged objects are evicted; a nacked one comes again; a rejected one stays."""
    make_publisher, make_subscriber, topic = acking
    objects = tmp_path / "objects"

    async def body() -> None:
        store = Store(f"acks-{uuid.uuid4().hex[:8]}", FileConnector(objects))
        async with AsyncStreamProducer(await make_publisher(), default_store=store) as producer:
            for word in ("keep", "again", "bad"):
                await producer.send(topic, word)
            await producer.close_topics(topic)
        consumer: AsyncStreamConsumer[Any] = AsyncStreamConsumer(
            await make_subscriber(), timeout=20, ack="manual"
        )
        assert consumer.acknowledges
        seen: list[tuple[str, int]] = []
        async for proxy in consumer:
            word = await resolve_async(proxy)
            seen.append((word, consumer.delivery_count(proxy)))
            if word == "again" and consumer.delivery_count(proxy) == 1:
                await consumer.nack(proxy)
            elif word == "bad":
                await consumer.reject(proxy)
            else:
                await consumer.ack(proxy)
        # When the nacked message comes again is the broker's choice.
        assert sorted(seen) == [("again", 1), ("again", 2), ("bad", 1), ("keep", 1)]
        assert consumer.stats.acked >= 3  # two objects and the end of the stream
        assert consumer.stats.nacked == 1
        assert consumer.stats.rejected == 1
        assert consumer.stats.redelivered == 1
        with pytest.raises(ItemNotHeldError):
            await consumer.ack(proxy)  # settled already
        await consumer.close()
        # Acknowledged objects were evicted; the rejected one stays for its dead letter.
        assert len(list(objects.iterdir())) == 1

    run(body())


def test_auto_acknowledges_per_task(acking: tuple[Make, Make, str]) -> None:
    """In "auto" mode a task's item is acknowledged when that task asks for the next."""
    make_publisher, make_subscriber, topic = acking

    async def body() -> None:
        async with AsyncStreamProducer(await make_publisher()) as producer:
            for i in range(6):
                await producer.send(topic, i)
            await producer.close_topics(topic)
        consumer: AsyncStreamConsumer[Any] = AsyncStreamConsumer(
            await make_subscriber(), timeout=20
        )

        async def worker() -> list[int]:
            return [item async for item in consumer]

        shares = await asyncio.gather(worker(), worker())
        assert sorted(item for share in shares for item in share) == list(range(6))
        assert consumer.ended
        await consumer.close()
        assert consumer.stats.acked == 7  # six objects and the end of the stream
        assert consumer.stats.nacked == 0

    run(body())


def test_close_gives_back_what_manual_mode_holds(acking: tuple[Make, Make, str]) -> None:
    make_publisher, make_subscriber, topic = acking

    async def body() -> None:
        async with AsyncStreamProducer(await make_publisher()) as producer:
            await producer.send(topic, "held")
        first: AsyncStreamConsumer[Any] = AsyncStreamConsumer(
            await make_subscriber(), timeout=20, ack="manual"
        )
        assert await first.next() == "held"
        await first.close()  # not acknowledged: given back
        assert first.stats.nacked == 1
        second: AsyncStreamConsumer[Any] = AsyncStreamConsumer(
            await make_subscriber(), timeout=20, ack="manual"
        )
        item = await second.next()
        assert item == "held"
        assert second.delivery_count(item) == 2
        await second.ack(item)
        await second.close()

    run(body())


def test_manual_mode_needs_an_acknowledging_subscriber() -> None:
    async def body() -> None:
        subscriber = AsyncQueueSubscriber(asyncio.Queue(), topics=["t"])
        with pytest.raises(AcknowledgementsUnavailableError):
            AsyncStreamConsumer(subscriber, ack="manual")
        consumer: AsyncStreamConsumer[Any] = AsyncStreamConsumer(subscriber)
        assert not consumer.acknowledges
        with pytest.raises(AcknowledgementsUnavailableError):
            await consumer.ack("anything")

    run(body())


class GatedConnector:
    """A local connector whose ``get`` waits for ``release`` (and says it is reading)."""

    kind = "local"

    def __init__(self) -> None:
        import threading

        from proxyflow.connectors.local import LocalConnector

        self.inner = LocalConnector()
        self.release = threading.Event()
        self.reading = threading.Event()

    def put(self, data: Any) -> Any:
        return self.inner.put(data)

    def put_batch(self, datas: Any) -> list[Any]:
        return self.inner.put_batch(datas)

    def get(self, key: Any, *, evict: bool = False) -> Any:
        self.reading.set()
        assert self.release.wait(10)
        return self.inner.get(key, evict=evict)

    def get_batch(self, keys: Any, *, evict: bool = False) -> list[Any]:
        return [self.get(key, evict=evict) for key in keys]

    def exists(self, key: Any) -> bool:
        return self.inner.exists(key)

    def evict(self, key: Any) -> None:
        self.inner.evict(key)

    def config(self) -> dict[str, Any]:
        return self.inner.config()

    def close(self) -> None:
        self.inner.close()


def test_a_read_cancelled_with_acknowledgements_is_still_settled(
    acking: tuple[Make, Make, str],
) -> None:
    make_publisher, make_subscriber, topic = acking
    gated = GatedConnector()
    gated.release.set()
    store = Store(f"gated-{uuid.uuid4().hex[:8]}", gated)

    async def body() -> None:
        producer = AsyncStreamProducer(await make_publisher(), default_store=store)
        for word in ("first", "second"):
            await producer.send(topic, word)
        await producer.close(topics=[topic], stores=False)
        consumer: AsyncStreamConsumer[Any] = AsyncStreamConsumer(
            await make_subscriber(), timeout=20, ack="manual", store_overrides={store.name: store}
        )
        gated.release.clear()
        reader = asyncio.ensure_future(consumer.next_object())
        assert await asyncio.to_thread(gated.reading.wait, 10)
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        gated.release.set()
        words = []
        async for word in consumer.iter_objects():
            words.append(word)
            await consumer.ack(word)  # the object the cancelled call read is held: settle it
        assert words == ["first", "second"]
        assert consumer.stats.acked == 3
        await consumer.close()
        assert gated.inner.stats()["objects"] == 0  # acknowledged, then evicted

    run(body())
    store.close()


def test_prefetch_evicts_on_ack_and_close_gives_back_what_was_read_ahead(
    acking: tuple[Make, Make, str], tmp_path: Path
) -> None:
    """prefetch=k over a durable broker: read ahead without evicting; close gives back."""
    make_publisher, make_subscriber, topic = acking
    objects = tmp_path / "objects"

    async def body() -> None:
        store = Store(f"acks-{uuid.uuid4().hex[:8]}", FileConnector(objects))
        async with AsyncStreamProducer(await make_publisher(), default_store=store) as producer:
            for i in range(10):
                await producer.send(topic, i)
            await producer.close_topics(topic)
        first: AsyncStreamConsumer[Any] = AsyncStreamConsumer(
            await make_subscriber(), timeout=20, ack="manual", prefetch=4
        )
        taken = [await asyncio.wait_for(first.next_object(), 20) for _ in range(3)]
        assert taken == [0, 1, 2]
        assert len(list(objects.iterdir())) == 10  # read ahead, nothing evicted
        for obj in taken:
            await first.ack(obj)
        assert len(list(objects.iterdir())) == 7
        await first.close()  # what it read ahead is given back, not lost
        assert first.stats.nacked >= 1
        second: AsyncStreamConsumer[Any] = AsyncStreamConsumer(
            await make_subscriber(), timeout=20, prefetch=4
        )

        async def rest() -> list[int]:
            return [obj async for obj in second.iter_objects()]

        assert sorted(await asyncio.wait_for(rest(), 40)) == list(range(3, 10))
        await second.close()
        assert list(objects.iterdir()) == []  # every object evicted once acknowledged

    run(body())
