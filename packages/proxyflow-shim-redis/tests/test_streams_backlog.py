"""``backlog(topic)`` of the Streams subscribers, and a dead member's entries coming back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
import redis

from proxyflow.api import (
    AsyncDrainableSubscriber,
    DrainableSubscriber,
    GroupBacklog,
)
from proxyflow.shims.redis import (
    AsyncRedisStreamSubscriber,
    BrokerConnectionError,
    RedisStreamPublisher,
    RedisStreamSubscriber,
    SubscriberClosedError,
    _streams_core,
)
from proxyflow.shims.redis._streams_backlog import Scan, read_groups

VISIBILITY = 1.0


def member(url: str, prefix: str, **options: Any) -> RedisStreamSubscriber:
    """A subscriber of the group ``work`` that reads one entry at a time."""
    options.setdefault("visibility_timeout", VISIBILITY)
    return RedisStreamSubscriber(
        url, "a", group="work", prefix=prefix, batch=1, poll_interval=0.1, **options
    )


def test_read_groups_takes_lag_and_pending_or_asks_for_a_scan() -> None:
    rows = [
        {"name": b"other", "pending": 9, "last-delivered-id": b"9-0", "lag": 9},
        {"name": b"work", "pending": 2, "last-delivered-id": b"5-0", "lag": 3},
    ]
    assert read_groups(rows, "work") == GroupBacklog(3, 2)
    no_lag = [{"name": b"work", "pending": 1, "last-delivered-id": b"5-1", "lag": None}]
    assert read_groups(no_lag, "work") == Scan("(5-1", 1)
    assert read_groups([{"name": "work", "pending": 0, "last-delivered-id": "0-0"}], "work") == (
        Scan("(0-0", 0)
    )
    assert read_groups(rows, "missing") == Scan("-", 0)  # recreated from the first entry
    assert Scan("(5-1", 1).backlog(4) == GroupBacklog(4, 1)


def test_backlog_counts_undelivered_and_unacknowledged_entries(redis_url: str, prefix: str) -> None:
    with RedisStreamPublisher(redis_url, prefix=prefix) as publisher:
        survivor = member(redis_url, prefix)
        dead = member(redis_url, prefix)
        assert isinstance(survivor, DrainableSubscriber)
        assert survivor.backlog("a") == GroupBacklog(0, 0)
        for i in range(3):
            publisher.send_message("a", b"m%d" % i)
        assert survivor.backlog("a") == GroupBacklog(3, 0)
        held = dead.next_delivery(timeout=5)  # then its member "dies": never settled
        assert survivor.backlog("a") == GroupBacklog(2, 1)
        rest = [survivor.next_delivery(timeout=5) for _ in range(2)]
        assert survivor.backlog("a") == GroupBacklog(0, 3)
        for delivery in rest:
            delivery.ack()
        assert survivor.backlog("a") == GroupBacklog(0, 1)  # what the dead member holds
        again = survivor.next_delivery(timeout=10 * VISIBILITY)  # reclaimed once idle
        assert (again.message, again.delivery_count) == (held.message, 2)
        assert survivor.backlog("a") == GroupBacklog(0, 1)
        again.ack()
        assert survivor.backlog("a") == GroupBacklog(0, 0)
        survivor.close()
        with pytest.raises(SubscriberClosedError):
            survivor.backlog("a")
        dead.close()


def test_the_lag_is_used_where_the_server_reports_it(redis_url: str, prefix: str) -> None:
    with RedisStreamPublisher(redis_url, prefix=prefix) as publisher:
        subscriber = member(redis_url, prefix)
        publisher.send_message("a", b"x")
        client = redis.Redis.from_url(redis_url)
        try:
            major = int(str(client.info("server")["redis_version"]).split(".")[0])
            step = read_groups(client.xinfo_groups(prefix + "a"), "work")
        finally:
            client.close()
        # Redis 7 reports lag (one command); 6.2 needs the scan (a second one).
        assert isinstance(step, GroupBacklog if major >= 7 else Scan)
        assert subscriber.backlog("a") == GroupBacklog(1, 0)
        subscriber.close()


def test_backlog_without_lag_scans_after_the_last_delivered_id(
    redis_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def without_lag(rows: Iterable[Mapping[str, Any]], group: str) -> GroupBacklog | Scan:
        return read_groups([{**row, "lag": None} for row in rows], group)  # Redis 6.2

    monkeypatch.setattr(_streams_core, "read_groups", without_lag)
    monkeypatch.setattr(_streams_core, "SCAN_BOUND", 2)
    with RedisStreamPublisher(redis_url, prefix=prefix) as publisher:
        subscriber = member(redis_url, prefix)
        for i in range(3):
            publisher.send_message("a", b"m%d" % i)
        assert subscriber.backlog("a") == GroupBacklog(2, 0)  # counted up to the bound
        first = subscriber.next_delivery(timeout=5)
        assert subscriber.backlog("a") == GroupBacklog(2, 1)
        first.ack()
        for _ in range(2):
            subscriber.next_delivery(timeout=5).ack()
        assert subscriber.backlog("a") == GroupBacklog(0, 0)
        subscriber.close()


def test_backlog_of_a_topic_not_read_is_refused(redis_url: str, prefix: str) -> None:
    with member(redis_url, prefix) as subscriber, pytest.raises(ValueError, match="'b'"):
        subscriber.backlog("b")


def test_async_backlog_follows_the_group(redis_url: str, prefix: str) -> None:
    async def scenario() -> list[GroupBacklog]:
        seen = []
        async with AsyncRedisStreamSubscriber(
            redis_url, "a", group="work", prefix=prefix, visibility_timeout=VISIBILITY
        ) as subscriber:
            assert isinstance(subscriber, AsyncDrainableSubscriber)
            with RedisStreamPublisher(redis_url, prefix=prefix) as publisher:
                publisher.send_message("a", b"x")
            seen.append(await subscriber.backlog("a"))
            delivery = await subscriber.next_delivery(timeout=5)
            seen.append(await subscriber.backlog("a"))
            await delivery.ack()
            seen.append(await subscriber.backlog("a"))
            with pytest.raises(ValueError):
                await subscriber.backlog("b")
        return seen

    assert asyncio.run(scenario()) == [GroupBacklog(1, 0), GroupBacklog(0, 1), GroupBacklog(0, 0)]


def test_backlog_errors_are_the_shim_s(persistent_redis: Any, prefix: str) -> None:
    subscriber = member(persistent_redis.url, prefix, socket_timeout=2.0, connect_timeout=1.0)
    try:
        persistent_redis.kill()
        with pytest.raises(BrokerConnectionError):  # a ConnectionError, never redis-py's
            subscriber.backlog("a")
        persistent_redis.restart()
        assert subscriber.backlog("a") == GroupBacklog(0, 0)  # the next call connects again
    finally:
        subscriber.close()
