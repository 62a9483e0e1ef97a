"""The asyncio stream over every asyncio shim, on real servers.

One contract-like suite, run for the ``asyncio.Queue`` shim, ZeroMQ, Redis
pub/sub, Redis lists, Redis Streams and NATS JetStream: objects stored in a
file store travel by reference and come back equal, inline objects and
batches keep their order, a stream ends once every producer ended it, an
empty topic times out, and a close from another task ends the stream. The
consumer builds its store from the events (nothing is shared in memory but
the directory).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from proxyflow.connectors.file import FileConnector
from proxyflow.proxy import Proxy, is_resolved, resolve_async
from proxyflow.store import Store
from proxyflow.stream import (
    AsyncStreamConsumer,
    AsyncStreamProducer,
    ConsumerTimeoutError,
)

Factory = Callable[[], Awaitable[Any]]


@dataclass
class Broker:
    """How one asyncio shim makes a publisher and a subscriber of ``topic``.

    Attributes:
        publisher: Coroutine function returning an open asyncio publisher.
        subscriber: Coroutine function returning an open asyncio subscriber.
        ready: Awaited with the publisher once the subscriber is open, before sending.
        cleanup: Closes what the broker made beyond what the test closes.
    """

    publisher: Factory
    subscriber: Factory
    ready: Callable[[Any], Awaitable[None]]
    cleanup: Callable[[], Awaitable[None]] | None = None

    async def close(self) -> None:
        """Close what the broker made that no test closed."""
        if self.cleanup is not None:
            await self.cleanup()


async def _nothing(publisher: Any) -> None:
    return None


def _queue(topic: str) -> Broker:
    from proxyflow.shims.queue import AsyncQueuePublisher, AsyncQueueSubscriber

    holder: dict[str, asyncio.Queue[Any]] = {}

    def q() -> asyncio.Queue[Any]:  # made on the test's loop
        return holder.setdefault("q", asyncio.Queue())

    async def publisher() -> Any:
        return AsyncQueuePublisher({topic: q()})

    async def subscriber() -> Any:
        return AsyncQueueSubscriber(q(), topics=[topic])

    return Broker(publisher, subscriber, _nothing)


def _zmq(topic: str) -> Broker:
    from proxyflow.shims.zmq import AsyncZeroMQPublisher, AsyncZeroMQSubscriber

    # Two publishers bound up front (the subscriber connects to both); each
    # producer takes the next one, and close() of an unused one is harmless.
    made: list[Any] = []
    taken: list[Any] = []

    async def publisher() -> Any:
        chosen = made[len(taken) % len(made)]
        taken.append(chosen)
        return chosen

    async def subscriber() -> Any:
        if not made:
            made.extend(AsyncZeroMQPublisher("tcp://127.0.0.1:*") for _ in range(2))
        return AsyncZeroMQSubscriber([p.address for p in made], [topic])

    async def ready(pub: Any) -> None:
        await pub.wait_for_subscribers(1, topic, timeout=10.0)

    async def cleanup() -> None:
        for pub in made:
            await pub.close()
        made.clear()
        taken.clear()

    return Broker(publisher, subscriber, ready, cleanup)


def _redis_pubsub(topic: str, url: str) -> Broker:
    from proxyflow.shims.redis import AsyncRedisPublisher, AsyncRedisSubscriber

    async def publisher() -> Any:
        return await AsyncRedisPublisher(url).open()

    async def subscriber() -> Any:
        return await AsyncRedisSubscriber(url, [topic]).open()

    return Broker(publisher, subscriber, _nothing)


def _redis_queue(topic: str, url: str) -> Broker:
    from proxyflow.shims.redis import AsyncRedisQueuePublisher, AsyncRedisQueueSubscriber

    async def publisher() -> Any:
        return await AsyncRedisQueuePublisher(url).open()

    async def subscriber() -> Any:
        return await AsyncRedisQueueSubscriber(url, [topic]).open()

    return Broker(publisher, subscriber, _nothing)


def _redis_streams(topic: str, url: str) -> Broker:
    from proxyflow.shims.redis import AsyncRedisStreamPublisher, AsyncRedisStreamSubscriber

    async def publisher() -> Any:
        return await AsyncRedisStreamPublisher(url).open()

    async def subscriber() -> Any:
        return await AsyncRedisStreamSubscriber(url, [topic], group="readers").open()

    return Broker(publisher, subscriber, _nothing)


def _jetstream(topic: str, url: str, stream: str) -> Broker:
    from proxyflow.shims.nats import AsyncJetStreamPublisher, AsyncJetStreamSubscriber

    async def publisher() -> Any:
        return await AsyncJetStreamPublisher(url, stream=stream).open()

    async def subscriber() -> Any:
        return await AsyncJetStreamSubscriber(url, [topic], durable="readers", stream=stream).open()

    return Broker(publisher, subscriber, _nothing)


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


KINDS = ["queue", "zmq", "redis", "redis-queue", "redis-streams", "jetstream"]


@pytest.fixture(params=KINDS)
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    topic = f"astream-{uuid.uuid4().hex[:10]}"
    kind = request.param
    if kind == "queue":
        yield _queue(topic)
    elif kind == "zmq":
        yield _zmq(topic)
    elif kind == "jetstream":
        url = request.getfixturevalue("nats_url")
        stream = f"A{uuid.uuid4().hex[:16]}"
        yield _jetstream(topic, url, stream)
        asyncio.run(_delete_stream(url, stream))
    else:
        url = request.getfixturevalue("redis_url")
        make = {"redis": _redis_pubsub, "redis-queue": _redis_queue}.get(kind, _redis_streams)
        yield make(topic, url)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


async def _open(
    broker: Broker, producers: int = 1, **consumer_options: Any
) -> tuple[list[Any], AsyncStreamConsumer[Any]]:
    """Open the consumer first (pub/sub keeps nothing), then the publishers."""
    subscriber = await broker.subscriber()
    consumer: AsyncStreamConsumer[Any] = AsyncStreamConsumer(
        subscriber, **{"timeout": 20, **consumer_options}
    )
    publishers = [await broker.publisher() for _ in range(producers)]
    for publisher in publishers:
        await broker.ready(publisher)
    return publishers, consumer


def _file_store(tmp_path: Path) -> Store:
    return Store(f"astream-{uuid.uuid4().hex[:8]}", FileConnector(tmp_path / "objects"))


def test_objects_travel_by_reference(broker: Broker, tmp_path: Path) -> None:
    async def body() -> None:
        (publisher,), consumer = await _open(broker)
        store = _file_store(tmp_path)
        producer = AsyncStreamProducer(publisher, default_store=store)
        objects = [{"i": i, "blob": bytes(1024) + bytes([i])} for i in range(10)]
        for i, obj in enumerate(objects):
            await producer.send(consumer.topics[0], obj, metadata={"i": i})
        await producer.close(topics=consumer.topics[:1])
        received = []
        async for metadata, proxy in consumer.iter_with_metadata():
            assert isinstance(proxy, Proxy)
            assert not is_resolved(proxy)
            # Resolved before the next item: with acknowledgements ("auto"),
            # asking for the next acknowledges this one and evicts its object.
            received.append((metadata["i"], await resolve_async(proxy)))
        assert received == list(enumerate(objects))
        assert consumer.ended
        await consumer.close()
        await broker.close()
        assert not list((tmp_path / "objects").iterdir())  # each read evicted its object

    run(body())


def test_inline_batches_keep_their_order(broker: Broker) -> None:
    async def body() -> None:
        (publisher,), consumer = await _open(broker)
        producer = AsyncStreamProducer(publisher, batch_size=4)
        for i in range(10):
            await producer.send(consumer.topics[0], f"item {i}")
        await producer.close(topics=consumer.topics[:1])
        assert [obj async for obj in consumer.iter_objects()] == [f"item {i}" for i in range(10)]
        assert consumer.stats.events == 4  # three batches and the end of the stream
        await consumer.close()
        await broker.close()

    run(body())


def test_the_stream_ends_once_every_producer_ended_it(broker: Broker) -> None:
    async def body() -> None:
        publishers, consumer = await _open(broker, producers=2, producers_per_topic=2)
        topic = consumer.topics[0]
        first, second = (AsyncStreamProducer(p) for p in publishers)
        await first.send(topic, "from the first")
        await first.close(topics=[topic])
        assert await consumer.next() == "from the first"
        assert not consumer.ended
        await second.send(topic, "from the second")
        await second.close(topics=[topic])
        assert [item async for item in consumer] == ["from the second"]
        assert consumer.ended
        await consumer.close()
        await broker.close()

    run(body())


def test_an_empty_topic_times_out_and_a_close_ends_the_stream(broker: Broker) -> None:
    async def body() -> None:
        (publisher,), consumer = await _open(broker, timeout=0.2)
        with pytest.raises(ConsumerTimeoutError):
            await consumer.next()
        await consumer.close()
        await publisher.close()
        await broker.close()
        (publisher,), consumer = await _open(broker, timeout=None)

        async def read_all() -> list[Any]:
            return [item async for item in consumer]

        reader = asyncio.ensure_future(read_all())
        done, _ = await asyncio.wait({reader}, timeout=0.2)
        assert not done  # waiting for a message
        await consumer.close()
        assert await asyncio.wait_for(reader, 20) == []
        await publisher.close()
        await broker.close()

    run(body())


async def _kill_clients_in(url: str, command: str) -> None:
    """Kill the connections of the server's clients waiting in ``command`` (within 10 s)."""
    import redis.asyncio

    admin = redis.asyncio.Redis.from_url(url, protocol=2)
    try:
        for _ in range(1000):
            ids = [c["id"] for c in await admin.client_list() if c.get("cmd") == command]
            if ids:
                for client_id in ids:
                    await admin.client_kill_filter(_id=client_id)
                return
            await asyncio.sleep(0.01)  # polling the server for a state, bounded
        raise AssertionError(f"no client reached {command}")
    finally:
        await admin.aclose()


def test_a_lost_list_connection_is_never_silent(redis_url: str) -> None:
    """The list subscriber cannot tell what a lost connection lost: the stream says so."""
    from proxyflow.shims.redis import (
        AsyncRedisQueuePublisher,
        AsyncRedisQueueSubscriber,
        BrokerConnectionError,
    )

    async def body() -> None:
        prefix = f"astream-{uuid.uuid4().hex[:8]}:"
        subscriber = await AsyncRedisQueueSubscriber(
            redis_url, ["t"], prefix=prefix, poll_interval=2
        ).open()
        consumer: AsyncStreamConsumer[Any] = AsyncStreamConsumer(subscriber, timeout=20)
        async with AsyncStreamProducer(AsyncRedisQueuePublisher(redis_url, prefix=prefix)) as p:
            await p.send("t", "before")
            assert await consumer.next() == "before"
            reader = asyncio.ensure_future(consumer.next())
            await _kill_clients_in(redis_url, "blpop")
            with pytest.raises(BrokerConnectionError, match="is lost"):
                await reader
            await p.send("t", "after")
            with pytest.raises(BrokerConnectionError):  # every later call, not a silent gap
                await consumer.next()
        await consumer.close()

    run(body())
