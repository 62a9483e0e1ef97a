"""The producers' roster of a Redis list: several consumers all learn when a topic has ended."""

from __future__ import annotations

import queue
import threading

from proxyflow.api import Roster, WorkSharingPublisher, WorkSharingSubscriber
from proxyflow.shims.redis import (
    ROSTER_PREFIX,
    RedisPublisher,
    RedisQueuePublisher,
    RedisQueueSubscriber,
    RedisSubscriber,
)
from proxyflow.shims.redis.roster import parse_roster, roster_key


def test_the_queue_classes_are_work_sharing_and_pub_sub_is_not(redis_url: str) -> None:
    with (
        RedisQueuePublisher(redis_url) as queue_publisher,
        RedisQueueSubscriber(redis_url, "t") as queue_subscriber,
        RedisPublisher(redis_url) as publisher,
        RedisSubscriber(redis_url, "t") as subscriber,
    ):
        assert isinstance(queue_publisher, WorkSharingPublisher)
        assert isinstance(queue_subscriber, WorkSharingSubscriber)
        assert not isinstance(publisher, WorkSharingPublisher)  # fan-out needs no roster
        assert not isinstance(subscriber, WorkSharingSubscriber)


def test_roster_keys_and_fields() -> None:
    assert roster_key("proxyflow:queue:t") == ROSTER_PREFIX + "proxyflow:queue:t"
    fields = [b"j:a", b"j:b", b"l:a", b"x:c", b"j:", b"l:"]
    assert parse_roster(fields) == Roster(frozenset({b"a", b"b"}), frozenset({b"a"}))


def _produce(url: str, prefix: str, producer_id: bytes, count: int) -> None:
    with RedisQueuePublisher(url, prefix=prefix, max_unconfirmed=16) as publisher:
        publisher.join("work", producer_id)
        for i in range(count):
            publisher.send_message("work", producer_id + b":%d" % i)
        publisher.leave("work", producer_id)


def _consume(url: str, prefix: str, producers: int, results: queue.Queue[list[bytes]]) -> None:
    got: list[bytes] = []
    with RedisQueueSubscriber(url, "work", prefix=prefix, poll_interval=0.05) as subscriber:
        while True:
            roster = subscriber.roster("work")  # first the roster, then the list
            done = roster.complete and len(roster.joined) >= producers
            try:
                got.append(subscriber.next_message(timeout=0.05))
            except TimeoutError:
                if done:
                    break
    results.put(got)


def test_four_producers_and_three_consumers_all_end_with_everything(
    redis_url: str, prefix: str
) -> None:
    ids = [b"p%d" % n for n in range(4)]
    count = 300
    results: queue.Queue[list[bytes]] = queue.Queue()
    consumers = [
        threading.Thread(target=_consume, args=(redis_url, prefix, len(ids), results))
        for _ in range(3)
    ]
    producers = [
        threading.Thread(target=_produce, args=(redis_url, prefix, pid, count)) for pid in ids
    ]
    for thread in consumers + producers:
        thread.start()
    for thread in consumers + producers:
        thread.join(60)
        assert not thread.is_alive()
    got = [results.get_nowait() for _ in consumers]
    everything = sorted(message for part in got for message in part)
    assert everything == sorted(pid + b":%d" % i for pid in ids for i in range(count))
    with RedisQueuePublisher(redis_url, prefix=prefix) as publisher:
        publisher.clear_roster("work")
    with RedisQueueSubscriber(redis_url, "work", prefix=prefix) as subscriber:
        assert subscriber.roster("work") == Roster(frozenset(), frozenset())
