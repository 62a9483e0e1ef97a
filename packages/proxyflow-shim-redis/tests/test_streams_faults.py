"""Faults of the Redis Streams shim: a consumer killed, the server killed, a length cap.

The consumer is a child process killed with ``SIGKILL``; the server is a
private redis-server with an append-only file (``persistent_redis``), killed
and restarted by its process id. Every loop is bounded by a deadline.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest
import redis

from proxyflow.shims.redis import (
    RedisStreamPublisher,
    RedisStreamSubscriber,
    StreamsUnsupportedError,
    StreamTrimmedError,
    TrimReport,
)
from proxyflow.shims.redis._streams_server import server_version

CHILD = textwrap.dedent(
    """
    import sys
    from proxyflow.shims.redis import RedisStreamSubscriber

    url, prefix = sys.argv[1], sys.argv[2]
    subscriber = RedisStreamSubscriber(
        url, "jobs", group="workers", consumer="doomed", prefix=prefix, batch=8,
        visibility_timeout=1.0,
    )
    subscriber.next_delivery(timeout=10).ack()
    held = [subscriber.next_delivery(timeout=10) for _ in range(2)]
    print(" ".join(d.message.decode() for d in held), flush=True)
    sys.stdin.read()  # wait to be killed, holding two deliveries and what it read ahead
    """
)


def _read_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"the child said nothing within {timeout}s")
    return process.stdout.readline().decode().strip()


def _drain(subscriber: RedisStreamSubscriber, quiet: float) -> list[Any]:
    deliveries = []
    while True:
        try:
            delivery = subscriber.next_delivery(timeout=quiet)
        except TimeoutError:
            return deliveries
        deliveries.append(delivery)
        delivery.ack()


def test_a_killed_consumers_deliveries_go_to_another_consumer(redis_url: str, prefix: str) -> None:
    sent = [b"job-%d" % i for i in range(10)]
    with RedisStreamPublisher(redis_url, prefix=prefix) as publisher:
        for message in sent:
            publisher.send_message("jobs", message)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, redis_url, prefix],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        held = _read_line(child, timeout=60).encode().split()
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        for pipe in (child.stdin, child.stdout):
            if pipe is not None:
                pipe.close()
    assert len(held) == 2
    with RedisStreamSubscriber(
        redis_url, "jobs", group="workers", prefix=prefix, visibility_timeout=1.0
    ) as survivor:
        received = _drain(survivor, quiet=3.0)
    messages = [d.message for d in received]
    assert sorted(messages) == sorted(sent[1:]), "every unacknowledged job, once"
    counts = {d.message: d.delivery_count for d in received}
    assert all(counts[m] == 2 for m in held), counts  # handed out by the child, then again


def test_acknowledged_adds_survive_a_server_kill_and_restart(persistent_redis: Any) -> None:
    """SIGKILL the server while a producer sends and a consumer reads; restart it."""
    server = persistent_redis
    publisher = RedisStreamPublisher(server.url)
    subscriber = RedisStreamSubscriber(
        server.url, "a", group="g", visibility_timeout=2.0, poll_interval=0.2, socket_timeout=2.0
    )
    total = 400
    acknowledged: list[bytes] = []
    failed: list[BaseException] = []
    halfway = threading.Event()
    restarted = threading.Event()

    def produce() -> None:
        for i in range(total):
            message = b"m%04d" % i
            try:
                publisher.send_message("a", message)
            except ConnectionError as exc:
                failed.append(exc)
                restarted.wait(30)
                continue
            acknowledged.append(message)
            if i == total // 2:
                halfway.set()
        halfway.set()

    producer = threading.Thread(target=produce)
    producer.start()
    received: list[bytes] = []
    errors = 0
    try:
        deadline = time.monotonic() + 60
        while not halfway.is_set() and time.monotonic() < deadline:
            try:
                delivery = subscriber.next_delivery(timeout=0.5)
            except TimeoutError:
                continue
            received.append(delivery.message)
            delivery.ack()
        killed = server.pid
        server.kill()
        server.restart()
        restarted.set()
        assert server.pid != killed
        producer.join(120)
        assert not producer.is_alive()
        deadline = time.monotonic() + 60
        quiet_since = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - quiet_since < 4.0:
            try:
                delivery = subscriber.next_delivery(timeout=0.5)
            except TimeoutError:
                continue
            except ConnectionError:
                errors += 1  # reported once per call; the next call connects again
                continue
            received.append(delivery.message)
            delivery.ack()
            quiet_since = time.monotonic()
    finally:
        restarted.set()
        publisher.close()
        subscriber.close()
    assert acknowledged, "nothing was acknowledged"
    missing = set(acknowledged) - set(received)
    assert not missing, f"{len(missing)} acknowledged adds lost: {sorted(missing)[:5]}"
    print(
        f"sent {total}, acknowledged {len(acknowledged)}, failed {len(failed)}, "
        f"received {len(received)} ({len(received) - len(set(received))} redelivered), "
        f"read errors {errors}"
    )


def test_a_length_cap_reports_what_it_removed(redis_url: str, prefix: str) -> None:
    admin = redis.Redis.from_url(redis_url, protocol=2)
    if server_version(admin.info("server")) < (7, 0):  # the cap needs the groups' lag counters
        with pytest.raises(StreamsUnsupportedError, match=r"needs Redis 7\.0"):
            RedisStreamPublisher(redis_url, prefix=prefix, maxlen=10)
        admin.close()
        return
    reader = RedisStreamSubscriber(redis_url, "a", group="slow", prefix=prefix)
    fast = RedisStreamSubscriber(redis_url, "a", group="fast", prefix=prefix)
    publisher = RedisStreamPublisher(redis_url, prefix=prefix, maxlen=10)
    try:
        held = None
        for i in range(250):
            publisher.send_message("a", b"%d" % i)
            if i == 5:
                held = reader.next_delivery(timeout=5)  # delivered, never acknowledged
            _drain(fast, quiet=0.0) if i % 10 == 9 else None
        assert held is not None
        with pytest.raises(StreamTrimmedError) as caught:
            publisher.flush()
        reports = caught.value.reports
        assert all(isinstance(r, TrimReport) for r in reports)
        assert {r.group for r in reports} == {"slow"}  # fast kept up
        assert all(r.topic == "a" for r in reports)
        lost_unread = sum(r.unread or 0 for r in reports)
        kept = admin.xlen(prefix + "a")
        assert lost_unread == 250 - 1 - kept  # all but the one read and those still kept
        assert sum(r.unacknowledged for r in reports) == 1
        assert publisher.trim_reports == reports
        publisher.flush()  # reported once
        # The held entry was trimmed: nack cannot give it back, so it is dead-lettered.
        held.nack()
        letter = admin.xrange(prefix + "dead-letters")[-1][1]
        assert (letter[b"message"], letter[b"proxyflow-reason"]) == (held.message, b"trimmed")
    finally:
        publisher.close()
        reader.close()
        fast.close()
        admin.close()
