"""The asyncio Streams classes: protocols, cancellation, dead letters, the cap and the roster."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio

from proxyflow.api import AsyncAckingSubscriber, AsyncDelivery, AsyncPublisher
from proxyflow.shims.redis import (
    AsyncRedisStreamPublisher,
    AsyncRedisStreamSubscriber,
    DeliveryReleasedError,
    PublisherClosedError,
    StreamsUnsupportedError,
    StreamTrimmedError,
    SubscriberClosedError,
)
from proxyflow.shims.redis._streams_server import server_version


async def blocked_in_xreadgroup(url: str) -> None:
    """Return once a client of the server waits in XREADGROUP (within 10 s)."""
    admin = redis.asyncio.Redis.from_url(url, protocol=2)
    try:
        for _ in range(1000):
            if any(c.get("cmd") == "xreadgroup" for c in await admin.client_list()):
                return
            await asyncio.sleep(0.01)  # polling the server for a state, bounded
        raise AssertionError("no client reached XREADGROUP")
    finally:
        await admin.aclose()


def run(coro: object) -> None:
    asyncio.run(asyncio.wait_for(coro, 60))  # type: ignore[arg-type]


def test_protocols_and_a_round_trip(redis_url: str, prefix: str) -> None:
    async def body() -> None:
        async with AsyncRedisStreamPublisher(redis_url, prefix=prefix) as publisher:
            assert isinstance(publisher, AsyncPublisher)
            subscriber = AsyncRedisStreamSubscriber(redis_url, "a", group="g", prefix=prefix)
            assert isinstance(subscriber, AsyncAckingSubscriber)
            async with subscriber:
                await publisher.send_message("a", memoryview(b"hello"))
                delivery = await subscriber.next_delivery(timeout=5)
                assert isinstance(delivery, AsyncDelivery)
                assert (delivery.message, delivery.delivery_count) == (b"hello", 1)
                await delivery.ack()
            with pytest.raises(SubscriberClosedError):
                await subscriber.next_delivery(timeout=0)
        with pytest.raises(PublisherClosedError):
            await publisher.send_message("a", b"late")

    run(body())


def test_a_cancelled_wait_loses_nothing(redis_url: str, prefix: str) -> None:
    async def body() -> None:
        options = {"group": "g", "prefix": prefix, "visibility_timeout": 1.0}
        async with AsyncRedisStreamSubscriber(redis_url, "a", **options) as waiting:
            reader = asyncio.create_task(waiting.next_delivery(timeout=None))
            await blocked_in_xreadgroup(redis_url)
            async with AsyncRedisStreamPublisher(redis_url, prefix=prefix) as publisher:
                await publisher.send_message("a", b"in flight")
            reader.cancel()
            try:
                taken = await reader
            except asyncio.CancelledError:
                taken = None
            async with AsyncRedisStreamSubscriber(redis_url, "a", **options) as other:
                if taken is not None:  # the read won the race: it is held, unsettled
                    assert taken.message == b"in flight"
                delivery = await other.next_delivery(timeout=10)
                assert delivery.message == b"in flight"
                await delivery.ack()

    run(body())


def test_close_gives_back_and_releases(redis_url: str, prefix: str) -> None:
    async def body() -> None:
        async with AsyncRedisStreamPublisher(redis_url, prefix=prefix) as publisher:
            await publisher.send_message("a", b"held")
        subscriber = await AsyncRedisStreamSubscriber(
            redis_url, "a", group="g", prefix=prefix
        ).open()
        delivery = await subscriber.next_delivery(timeout=5)
        await subscriber.close()
        await subscriber.close()
        with pytest.raises(DeliveryReleasedError):
            await delivery.ack()
        async with AsyncRedisStreamSubscriber(redis_url, "a", group="g", prefix=prefix) as other:
            again = await other.next_delivery(timeout=5)
            assert (again.message, again.delivery_count) == (b"held", 2)
            await again.reject()
        async with AsyncRedisStreamSubscriber(
            redis_url, "dead-letters", group="inspect", prefix=prefix, dead_letter=None
        ) as dead:
            letter = await dead.next_delivery(timeout=5)
            assert letter.fields["proxyflow-reason"] == b"rejected"

    run(body())


def test_the_cap_is_reported_and_the_roster_kept(redis_url: str, prefix: str) -> None:
    async def body() -> None:
        subscriber = await AsyncRedisStreamSubscriber(
            redis_url, "a", group="behind", prefix=prefix
        ).open()
        capped = AsyncRedisStreamPublisher(redis_url, prefix=prefix, maxlen=5)
        admin = redis.asyncio.Redis.from_url(redis_url, protocol=2)
        old = server_version(await admin.info("server")) < (7, 0)
        await admin.aclose()
        if old:  # the cap needs the groups' lag counters
            with pytest.raises(StreamsUnsupportedError):
                await capped.open()
            await subscriber.close()
            return
        publisher = await capped.open()
        await publisher.join("a", b"p")
        for i in range(300):
            await publisher.send_message("a", b"%d" % i)
        await publisher.leave("a", b"p")
        roster = await subscriber.roster("a")
        assert roster.complete
        assert roster.joined == {b"p"}
        with pytest.raises(StreamTrimmedError) as caught:
            await publisher.flush()
        assert {r.group for r in caught.value.reports} == {"behind"}
        assert publisher.trim_reports
        await publisher.close()  # reported already: closes quietly
        await subscriber.close()

    run(body())
