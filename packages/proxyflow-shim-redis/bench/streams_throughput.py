"""Throughput of the Redis Streams shim against raw redis-py doing the same, in one run.

Each case adds N messages of 1 KiB to one stream, then consumes them through
a consumer group, acknowledging each one:

* ``confirmed``: every add and every acknowledgement waits for Redis's reply
  (the shim's defaults: ``max_unconfirmed=0``, ``confirm_acks=True``; raw:
  ``XADD`` then ``XREADGROUP COUNT 16`` and one ``XACK`` per message);
* ``pipelined``: adds are pipelined and acknowledgements ride with the next
  read (shim: ``max_unconfirmed=1024``, ``confirm_acks=False``; raw: a
  pipeline of 1024 ``XADD``s, and the ``XACK`` of a read's messages sent in
  one pipeline with the next ``XREADGROUP``).

The at-most-once list queue (``RedisQueuePublisher``/``RedisQueueSubscriber``)
is measured as well, for the cost of acknowledgement. Prints messages per
second and shim/raw ratios; asserts nothing.

    python packages/proxyflow-shim-redis/bench/streams_throughput.py [--url redis://...] [--count N]

Without ``--url`` a private redis-server is started (proxyflow-testing's ``RedisServer``).
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable

import redis

from proxyflow.shims.redis import (
    RedisQueuePublisher,
    RedisQueueSubscriber,
    RedisStreamPublisher,
    RedisStreamSubscriber,
)
from proxyflow.testing.redis_server import RedisServer

PAYLOAD = b"x" * 1024
BATCH = 16
Rates = tuple[float, float]


def _rate(count: int, start: float) -> float:
    return count / (time.perf_counter() - start)


def raw(url: str, count: int, pipelined: bool) -> Rates:
    """redis-py alone."""
    client = redis.Redis.from_url(url, protocol=2)
    key = f"bench:raw:{uuid.uuid4().hex}"
    client.xgroup_create(key, "g", id="0", mkstream=True)
    start = time.perf_counter()
    if pipelined:
        pipe = client.pipeline(transaction=False)
        for i in range(count):
            pipe.xadd(key, {"message": PAYLOAD})
            if i % 1024 == 1023:
                pipe.execute()
        pipe.execute()
    else:
        for _ in range(count):
            client.xadd(key, {"message": PAYLOAD})
    publish = _rate(count, start)
    start = time.perf_counter()
    received = 0
    pending: list[bytes] = []
    while received < count:
        if pipelined:
            pipe = client.pipeline(transaction=False)
            if pending:
                pipe.xack(key, "g", *pending)
            pipe.xreadgroup("g", "c", {key: ">"}, count=BATCH, block=1000)
            reply = pipe.execute()[-1]
        else:
            reply = client.xreadgroup("g", "c", {key: ">"}, count=BATCH, block=1000)
        pending = []
        for _, entries in reply:
            for entry_id, fields in entries:
                assert len(fields[b"message"]) == len(PAYLOAD)
                if pipelined:
                    pending.append(entry_id)
                else:
                    client.xack(key, "g", entry_id)
                received += 1
    if pending:
        client.xack(key, "g", *pending)
    consume = _rate(count, start)
    client.delete(key)
    client.close()
    return publish, consume


def shim(url: str, count: int, pipelined: bool) -> Rates:
    """RedisStreamPublisher, then RedisStreamSubscriber.next_delivery + ack."""
    prefix = f"bench:shim:{uuid.uuid4().hex}:"
    with RedisStreamPublisher(
        url, prefix=prefix, max_unconfirmed=1024 if pipelined else 0
    ) as publisher:
        start = time.perf_counter()
        for _ in range(count):
            publisher.send_message("a", PAYLOAD)
        publisher.flush()
        publish = _rate(count, start)
    with RedisStreamSubscriber(
        url, "a", group="g", prefix=prefix, batch=BATCH, confirm_acks=not pipelined
    ) as subscriber:
        start = time.perf_counter()
        for _ in range(count):
            delivery = subscriber.next_delivery(timeout=5)
            delivery.ack()
        consume = _rate(count, start)
    _cleanup(url, prefix + "a")
    return publish, consume


def queue(url: str, count: int, pipelined: bool) -> Rates:
    """The at-most-once list queue: RPUSH, then BLPOP (no acknowledgement)."""
    prefix = f"bench:queue:{uuid.uuid4().hex}:"
    with RedisQueuePublisher(
        url, prefix=prefix, max_unconfirmed=1024 if pipelined else 0
    ) as publisher:
        start = time.perf_counter()
        for _ in range(count):
            publisher.send_message("a", PAYLOAD)
        publisher.flush()
        publish = _rate(count, start)
    with RedisQueueSubscriber(url, "a", prefix=prefix) as subscriber:
        start = time.perf_counter()
        for _ in range(count):
            subscriber.next_message(timeout=5)
        consume = _rate(count, start)
    return publish, consume


def _cleanup(url: str, key: str) -> None:
    client = redis.Redis.from_url(url, protocol=2)
    client.delete(key)
    client.close()


def main() -> None:
    """Run every case once and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running Redis (default: start a private one)")
    parser.add_argument("--count", type=int, default=10_000, help="messages per case")
    options = parser.parse_args()
    server = None if options.url else RedisServer().start()
    url = options.url or (server.url if server else "")
    cases: list[tuple[str, Callable[[str, int, bool], Rates]]] = [
        ("raw redis-py XADD/XREADGROUP/XACK", raw),
        ("RedisStreamPublisher/Subscriber + ack", shim),
        ("RedisQueue (at most once, no ack)", queue),
    ]
    try:
        print(f"{options.count} messages of {len(PAYLOAD)} B, messages per second")
        print(f"{'case':<40} {'mode':<10} {'publish':>10} {'consume':>10}")
        results: dict[tuple[str, bool], Rates] = {}
        for pipelined in (False, True):
            mode = "pipelined" if pipelined else "confirmed"
            for name, run in cases:
                rates = results[name, pipelined] = run(url, options.count, pipelined)
                print(f"{name:<40} {mode:<10} {rates[0]:>10.0f} {rates[1]:>10.0f}")
        print("\nshim / raw (1.00 = as fast as redis-py alone)")
        for pipelined in (False, True):
            raw_rates = results[cases[0][0], pipelined]
            shim_rates = results[cases[1][0], pipelined]
            mode = "pipelined" if pipelined else "confirmed"
            print(
                f"{mode:<10} publish {shim_rates[0] / raw_rates[0]:.2f}  "
                f"consume {shim_rates[1] / raw_rates[1]:.2f}"
            )
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
