"""Behaviour of the asyncio pub/sub and list-queue shims beyond the contract suites."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest
import redis.asyncio

from proxyflow.api import (
    AsyncPublisher,
    AsyncSubscriber,
    AsyncWorkSharingPublisher,
    AsyncWorkSharingSubscriber,
)
from proxyflow.shims.redis import (
    AsyncRedisPublisher,
    AsyncRedisQueuePublisher,
    AsyncRedisQueueSubscriber,
    AsyncRedisSubscriber,
    BrokerConnectionError,
    InvalidBrokerURLError,
    MessageNotReceivedError,
    PublisherClosedError,
    PublishRejectedError,
    SubscriberClosedError,
    SubscriberTimeoutError,
)


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 60))


async def client_in(url: str, command: str) -> int:
    """Return the id of a client of the server waiting in ``command`` (within 10 s)."""
    admin = redis.asyncio.Redis.from_url(url, protocol=2)
    try:
        for _ in range(1000):
            for client in await admin.client_list():
                if client.get("cmd") == command:
                    return int(client["id"])
            await asyncio.sleep(0.01)  # polling the server for a state, bounded
        raise AssertionError(f"no client reached {command}")
    finally:
        await admin.aclose()


async def kill_client(url: str, client_id: int) -> None:
    admin = redis.asyncio.Redis.from_url(url, protocol=2)
    try:
        await admin.client_kill_filter(_id=client_id)
    finally:
        await admin.aclose()


def test_protocols(redis_url: str) -> None:
    assert isinstance(AsyncRedisPublisher(redis_url), AsyncPublisher)
    assert isinstance(AsyncRedisSubscriber(redis_url, "a"), AsyncSubscriber)
    assert isinstance(AsyncRedisQueuePublisher(redis_url), AsyncWorkSharingPublisher)
    assert isinstance(AsyncRedisQueueSubscriber(redis_url, "a"), AsyncWorkSharingSubscriber)


def test_bad_url_and_unreachable_server() -> None:
    async def body() -> None:
        with pytest.raises(InvalidBrokerURLError):
            await AsyncRedisPublisher("http://localhost:1").open()
        with pytest.raises(BrokerConnectionError, match=r"127\.0\.0\.1:1"):
            await AsyncRedisQueueSubscriber("redis://:secret@127.0.0.1:1", "a").open()
        with pytest.raises(BrokerConnectionError) as caught:
            await AsyncRedisSubscriber("redis://:secret@127.0.0.1:1", "a").open()
        assert "secret" not in str(caught.value)

    run(body())


def test_min_receivers_and_unreceived(redis_url: str) -> None:
    async def body() -> None:
        async with AsyncRedisPublisher(redis_url, min_receivers=1) as publisher:
            with pytest.raises(MessageNotReceivedError, match=r"fewer than min_receivers=1"):
                await publisher.send_message("nobody-listens", b"x")
            assert publisher.unreceived == 1
            async with AsyncRedisSubscriber(redis_url, "someone") as subscriber:
                await publisher.send_message("someone", b"y")
                assert await subscriber.next_message(timeout=5) == b"y"
            assert publisher.unreceived == 1
        with pytest.raises(PublisherClosedError):
            await publisher.send_message("someone", b"late")

    run(body())


def test_a_refused_push_is_typed(redis_url: str, prefix: str) -> None:
    async def body() -> None:
        admin = redis.asyncio.Redis.from_url(redis_url, protocol=2)
        await admin.set(prefix + "taken", b"a string, not a list")
        await admin.aclose()
        async with AsyncRedisQueuePublisher(redis_url, prefix=prefix) as publisher:
            with pytest.raises(PublishRejectedError, match="WRONGTYPE"):
                await publisher.send_message("taken", b"x")
            await publisher.send_message("fine", b"still usable")

    run(body())


@pytest.mark.parametrize("kind", ["pubsub", "queue"])
def test_close_from_another_task_ends_a_wait(redis_url: str, prefix: str, kind: str) -> None:
    async def body() -> None:
        subscriber: AsyncRedisSubscriber | AsyncRedisQueueSubscriber
        if kind == "pubsub":
            subscriber = AsyncRedisSubscriber(redis_url, prefix + "a", poll_interval=0.05)
        else:
            subscriber = AsyncRedisQueueSubscriber(
                redis_url, "a", prefix=prefix, poll_interval=0.05
            )
        await subscriber.open()
        reader = asyncio.ensure_future(subscriber.next_message(timeout=None))
        await client_in(redis_url, "subscribe" if kind == "pubsub" else "blpop")
        await subscriber.close()
        with pytest.raises(SubscriberClosedError):
            await reader
        with pytest.raises(SubscriberClosedError):
            await subscriber.next_message(timeout=0)

    run(body())


def test_a_cancelled_queue_read_loses_nothing(redis_url: str, prefix: str) -> None:
    async def body() -> None:
        async with AsyncRedisQueuePublisher(redis_url, prefix=prefix) as publisher:
            subscriber = AsyncRedisQueueSubscriber(redis_url, "a", prefix=prefix, poll_interval=2)
            async with subscriber:
                reader = asyncio.ensure_future(subscriber.next_message(timeout=None))
                await client_in(redis_url, "blpop")
                reader.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await reader
                await publisher.send_message("a", b"kept")  # taken by the pop left running
                assert await subscriber.next_message(timeout=5) == b"kept"

    run(body())


def test_closing_gives_back_what_a_cancelled_read_popped(redis_url: str, prefix: str) -> None:
    async def body() -> None:
        async with AsyncRedisQueuePublisher(redis_url, prefix=prefix) as publisher:
            subscriber = AsyncRedisQueueSubscriber(redis_url, "a", prefix=prefix, poll_interval=2)
            await subscriber.open()
            reader = asyncio.ensure_future(subscriber.next_message(timeout=None))
            await client_in(redis_url, "blpop")
            reader.cancel()
            with pytest.raises(asyncio.CancelledError):
                await reader
            await publisher.send_message("a", b"given back")
            await subscriber.close()
            async with AsyncRedisQueueSubscriber(redis_url, "a", prefix=prefix) as other:
                assert await other.next_message(timeout=5) == b"given back"

    run(body())


def test_a_queue_subscriber_reports_a_lost_connection_every_time(
    redis_url: str, prefix: str
) -> None:
    async def body() -> None:
        subscriber = AsyncRedisQueueSubscriber(redis_url, "a", prefix=prefix, poll_interval=2)
        async with subscriber:
            reader = asyncio.ensure_future(subscriber.next_message(timeout=None))
            await kill_client(redis_url, await client_in(redis_url, "blpop"))
            with pytest.raises(BrokerConnectionError, match="is lost"):
                await reader
            with pytest.raises(BrokerConnectionError, match="is lost"):
                await subscriber.next_message(timeout=0)

    run(body())


def test_a_pubsub_subscriber_reconnects(redis_url: str, prefix: str) -> None:
    async def body() -> None:
        topic = prefix + "events"
        subscriber = AsyncRedisSubscriber(redis_url, topic, poll_interval=0.05)
        async with subscriber, AsyncRedisPublisher(redis_url) as publisher:
            await kill_client(redis_url, await client_in(redis_url, "subscribe"))
            received = None
            for attempt in range(200):  # published while away is lost: send until one arrives
                await publisher.send_message(topic, b"after %d" % attempt)
                try:
                    received = await subscriber.next_message(timeout=0.05)
                    break
                except SubscriberTimeoutError:
                    continue
            assert received is not None
            assert received.startswith(b"after")
            assert subscriber.reconnects == 1

    run(body())


def test_no_reconnect_reports_the_loss(redis_url: str, prefix: str) -> None:
    async def body() -> None:
        subscriber = AsyncRedisSubscriber(
            redis_url, prefix + "x", poll_interval=0.05, reconnect_timeout=0
        )
        async with subscriber:
            await kill_client(redis_url, await client_in(redis_url, "subscribe"))
            with pytest.raises(BrokerConnectionError, match="is lost"):
                await subscriber.next_message(timeout=5)
            with pytest.raises(BrokerConnectionError):
                await subscriber.next_message(timeout=0)

    run(body())
