"""Four producers, three consumers, one work-sharing topic, default arguments.

An end-of-stream message reaches only one consumer of a work-sharing broker.
Before the roster, consumers ended "normally" with objects never delivered (8
on a Redis list, 161 on multiprocessing queues). Now each consumer ends a
topic when the broker's roster says every producer that joined has left and
nothing is left to read: every object arrives exactly once and every consumer
ends.
"""

from __future__ import annotations

import functools
import queue
import threading
import uuid
from typing import Any

from pfit.harness import SPAWN, wait_report
from pfit.sharing import COUNT, queue_publisher, queue_subscriber, share_consumer, share_producer

from proxyflow.shims.queue import shared_queue
from proxyflow.shims.redis import RedisQueuePublisher, RedisQueueSubscriber

PRODUCERS, CONSUMERS = 4, 3
EXPECTED = sorted((p, i) for p in range(PRODUCERS) for i in range(COUNT))


def _check(reports: Any) -> None:
    shares = [wait_report(reports, "consumed", timeout=60) for _ in range(CONSUMERS)]
    everything = sorted(obj for share in shares for obj in share)
    assert everything == EXPECTED  # every object exactly once


def test_redis_list_four_producers_three_consumers(redis_url: str) -> None:
    topic = f"share-{uuid.uuid4().hex[:8]}"
    reports: queue.Queue[Any] = queue.Queue()
    started = threading.Barrier(PRODUCERS)
    roles = [
        threading.Thread(
            target=share_consumer,
            args=(functools.partial(RedisQueueSubscriber, redis_url, topic), reports),
            daemon=True,
        )
        for _ in range(CONSUMERS)
    ]
    roles += [
        threading.Thread(
            target=share_producer,
            args=(functools.partial(RedisQueuePublisher, redis_url), topic, p, started, reports),
            daemon=True,
        )
        for p in range(PRODUCERS)
    ]
    for role in roles:
        role.start()
    _check(reports)
    for role in roles:
        role.join(30)
    assert not any(role.is_alive() for role in roles)


def test_multiprocessing_queue_four_producers_three_consumers() -> None:
    jobs = shared_queue(SPAWN)
    reports = SPAWN.Queue()
    started = SPAWN.Barrier(PRODUCERS)
    procs = [
        SPAWN.Process(
            target=share_consumer, args=(functools.partial(queue_subscriber, jobs), reports)
        )
        for _ in range(CONSUMERS)
    ]
    procs += [
        SPAWN.Process(
            target=share_producer,
            args=(functools.partial(queue_publisher, jobs), "jobs", p, started, reports),
        )
        for p in range(PRODUCERS)
    ]
    try:
        for proc in procs:
            proc.start()
        _check(reports)
        for proc in procs:
            proc.join(30)
        assert all(proc.exitcode == 0 for proc in procs)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join(5)
