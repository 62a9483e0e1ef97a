"""Durable brokers: the Redis Streams and JetStream shims against raw clients, and the cost of acks.

1 KiB messages, on private loopback servers started for the run (or the
servers given). For each case, in one run:

* **publish**: ``N`` sends, each returning once the broker stored the message
  (messages per second);
* **consume**: then ``N`` receives, each acknowledged and the acknowledgement
  confirmed by the broker (messages per second; the list queue and pub/sub
  have no acknowledgement);
* **latency**: ``L`` round trips of one message: send, receive, acknowledge
  (median microseconds).

Cases: raw redis-py ``XADD``/``XREADGROUP``/``XACK`` and the Redis Streams
shim; raw nats-py (``js.publish``, a pull ``fetch``, ``ack_sync``) and the
synchronous and asyncio JetStream shims (``proxyflow_bench.durable_nats``);
the at-most-once Redis list queue and Redis pub/sub (latency only: a channel
keeps nothing for a subscriber that is not reading). Every case runs ``R``
times, the cases of one repeat back to back; the table gives the median and
the spread (max - min, relative to the median), then shim/raw ratios and the
cost of acknowledgement (Streams against the list queue and pub/sub), each the
median of the ratios within a repeat (paired, so load that shifts between
repeats cancels). Asserts nothing.

    python -m proxyflow_bench.durable [--count N] [--latency L] [--repeat R]
        [--only redis|nats] [--redis-url URL] [--nats-url URL]

(``hatch run bench:durable``; from ``benchmarks/``, or with it on ``PYTHONPATH``.)
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, NamedTuple

import redis

from proxyflow.shims.redis import (
    RedisPublisher,
    RedisQueuePublisher,
    RedisQueueSubscriber,
    RedisStreamPublisher,
    RedisStreamSubscriber,
    RedisSubscriber,
)
from proxyflow_bench.durable_measure import PAYLOAD, Measure, measure_acking, median_us, rate
from proxyflow_bench.durable_nats import async_shim_jetstream, raw_jetstream, shim_jetstream

READ_BATCH = 16


class Row(NamedTuple):
    """One case over every run: medians, the largest relative spread, and the runs."""

    case: str
    publish: float | None
    consume: float | None
    latency_us: float
    spread: float  # the largest relative spread of the three figures
    runs: tuple[Measure, ...]


# -- Redis Streams ---------------------------------------------------------------------------


def raw_streams(url: str, count: int, rounds: int) -> Measure:
    """redis-py alone: XADD each; XREADGROUP COUNT 16 and one XACK per message."""
    client: Any = redis.Redis.from_url(url, protocol=2)  # redis-py's reply types are unions
    key = f"bench:raw:{uuid.uuid4().hex}"
    client.xgroup_create(key, "g", id="0", mkstream=True)
    try:
        start = time.perf_counter()
        for _ in range(count):
            client.xadd(key, {"message": PAYLOAD})
        publish = rate(count, start)
        start = time.perf_counter()
        received = 0
        while received < count:
            for _, entries in client.xreadgroup("g", "c", {key: ">"}, count=READ_BATCH, block=1000):
                for entry_id, _fields in entries:
                    client.xack(key, "g", entry_id)
                    received += 1
        consume = rate(count, start)
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            client.xadd(key, {"message": PAYLOAD})
            ((_, [(entry_id, _fields)]),) = client.xreadgroup(
                "g", "c", {key: ">"}, count=1, block=1000
            )
            client.xack(key, "g", entry_id)
            samples.append(time.perf_counter() - start)
        return Measure(publish, consume, median_us(samples))
    finally:
        client.delete(key)
        client.close()


def shim_streams(url: str, count: int, rounds: int) -> Measure:
    """RedisStreamPublisher; RedisStreamSubscriber.next_delivery + confirmed ack."""
    prefix = f"bench:shim:{uuid.uuid4().hex}:"
    with (
        RedisStreamPublisher(url, prefix=prefix) as publisher,
        RedisStreamSubscriber(url, "a", group="g", prefix=prefix, batch=READ_BATCH) as subscriber,
    ):
        measure = measure_acking(publisher, subscriber, count, rounds)
    _delete_key(url, prefix + "a")
    return measure


def redis_list(url: str, count: int, rounds: int) -> Measure:
    """The at-most-once list queue: RPUSH; BLPOP (nothing to acknowledge)."""
    prefix = f"bench:list:{uuid.uuid4().hex}:"
    with (
        RedisQueuePublisher(url, prefix=prefix) as publisher,
        RedisQueueSubscriber(url, "a", prefix=prefix) as subscriber,
    ):
        start = time.perf_counter()
        for _ in range(count):
            publisher.send_message("a", PAYLOAD)
        publish = rate(count, start)
        start = time.perf_counter()
        for _ in range(count):
            subscriber.next_message(timeout=5.0)
        consume = rate(count, start)
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            publisher.send_message("a", PAYLOAD)
            subscriber.next_message(timeout=5.0)
            samples.append(time.perf_counter() - start)
    return Measure(publish, consume, median_us(samples))


def redis_pubsub(url: str, count: int, rounds: int) -> Measure:
    """At-most-once pub/sub: PUBLISH to a subscribed channel; latency only."""
    topic = f"bench-{uuid.uuid4().hex}"
    with RedisSubscriber(url, topic) as subscriber, RedisPublisher(url) as publisher:
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            publisher.send_message(topic, PAYLOAD)
            subscriber.next_message(timeout=5.0)
            samples.append(time.perf_counter() - start)
    return Measure(None, None, median_us(samples))


def _delete_key(url: str, key: str) -> None:
    client = redis.Redis.from_url(url, protocol=2)
    try:
        client.delete(key)
    finally:
        client.close()


# -- the run ---------------------------------------------------------------------------------

RAW_STREAMS = "raw redis-py XADD/XREADGROUP/XACK"
SHIM_STREAMS = "RedisStreamPublisher/Subscriber + ack"
LIST = "Redis list queue (at most once)"
PUBSUB = "Redis pub/sub (at most once)"
RAW_JETSTREAM = "raw nats-py publish/fetch/ack_sync"
SHIM_JETSTREAM = "JetStreamPublisher/Subscriber + ack"
ASYNC_JETSTREAM = "AsyncJetStreamPublisher/Subscriber + ack"

CASES: tuple[tuple[str, str, Callable[[str, int, int], Measure]], ...] = (
    (RAW_STREAMS, "redis", raw_streams),
    (SHIM_STREAMS, "redis", shim_streams),
    (LIST, "redis", redis_list),
    (PUBSUB, "redis", redis_pubsub),
    (RAW_JETSTREAM, "nats", raw_jetstream),
    (SHIM_JETSTREAM, "nats", shim_jetstream),
    (ASYNC_JETSTREAM, "nats", async_shim_jetstream),
)


def _spread(values: list[float]) -> float:
    middle = statistics.median(values)
    return (max(values) - min(values)) / middle if middle else 0.0


def _summary(case: str, runs: list[Measure]) -> Row:
    def figure(name: str) -> list[float]:
        return [getattr(run, name) for run in runs if getattr(run, name) is not None]

    publish, consume, latency = figure("publish"), figure("consume"), figure("latency_us")
    spreads = [_spread(values) for values in (publish, consume, latency) if values]
    return Row(
        case,
        statistics.median(publish) if publish else None,
        statistics.median(consume) if consume else None,
        statistics.median(latency),
        max(spreads),
        tuple(runs),
    )


def measure(urls: dict[str, str], count: int, rounds: int, repeat: int) -> list[Row]:
    """Run every case of the servers in ``urls`` ``repeat`` times (interleaved, so drift
    hits every case alike)."""
    cases = [(case, server, run) for case, server, run in CASES if server in urls]
    runs: dict[str, list[Measure]] = {case: [] for case, _, _ in cases}
    for _ in range(repeat):
        for case, server, run in cases:
            runs[case].append(run(urls[server], count, rounds))
    return [_summary(case, runs[case]) for case, _, _ in cases]


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def render(rows: list[Row], count: int, rounds: int, repeat: int) -> str:
    """The table of rows, then the ratios, as Markdown."""
    by_case = {row.case: row for row in rows}
    lines = [
        f"{count} messages of 1 KiB per case (latency: median of {rounds} round trips), "
        f"median of {repeat} runs.",
        "",
        "| Case | Publish msg/s | Consume + ack msg/s | Round trip µs | Spread |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.case} | {_figure(row.publish)} | {_figure(row.consume)} | "
            f"{row.latency_us:,.0f} | {row.spread:.0%} |"
        )
    lines += ["", "| Ratio | Publish | Consume | Round trip |", "|---|---:|---:|---:|"]

    def paired(top: Row, bottom: Row, name: str) -> str:
        runs = zip(top.runs, bottom.runs, strict=True)
        pairs = [(getattr(x, name), getattr(y, name)) for x, y in runs]
        if any(x is None or y is None for x, y in pairs):
            return "-"
        return f"{statistics.median(x / y for x, y in pairs):.2f}"

    def ratio(label: str, top: str, bottom: str) -> None:
        if top not in by_case or bottom not in by_case:
            return  # a broker left out with --only
        a, b = by_case[top], by_case[bottom]
        cells = [paired(a, b, name) for name in ("publish", "consume", "latency_us")]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    ratio("Streams shim / raw redis-py", SHIM_STREAMS, RAW_STREAMS)
    ratio("JetStream shim / raw nats-py", SHIM_JETSTREAM, RAW_JETSTREAM)
    ratio("asyncio JetStream shim / raw nats-py", ASYNC_JETSTREAM, RAW_JETSTREAM)
    ratio("Streams shim / list queue (cost of acks)", SHIM_STREAMS, LIST)
    ratio("Streams shim / pub/sub (cost of acks)", SHIM_STREAMS, PUBSUB)
    ratio("JetStream shim / list queue", SHIM_JETSTREAM, LIST)
    return "\n".join(lines)


@contextmanager
def servers(
    redis_url: str | None, nats_url: str | None, only: str | None = None
) -> Iterator[dict[str, str]]:
    """The URLs given, or private servers started for the run (stopped afterwards).

    ``only`` (``"redis"`` or ``"nats"``) leaves the other broker out.
    """
    from proxyflow.testing.nats_server import NatsServer
    from proxyflow.testing.redis_server import RedisServer

    with ExitStack() as stack:
        urls: dict[str, Any] = {}
        if only in (None, "redis"):
            urls["redis"] = redis_url or stack.enter_context(RedisServer()).url
        if only in (None, "nats"):
            urls["nats"] = nats_url or stack.enter_context(NatsServer()).url
        yield urls


def main(argv: list[str] | None = None) -> int:
    """Parse the options, measure, print the table."""
    parser = argparse.ArgumentParser(prog="proxyflow_bench.durable", description=__doc__)
    parser.add_argument("--count", type=int, default=5000, help="messages per case and run")
    parser.add_argument("--latency", type=int, default=500, help="round trips per case and run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of every case")
    parser.add_argument("--only", choices=("redis", "nats"), help="measure one broker's cases")
    parser.add_argument("--redis-url", help="a running Redis (default: a private one)")
    parser.add_argument("--nats-url", help="a running NATS with JetStream (default: private)")
    args = parser.parse_args(argv)
    if min(args.count, args.latency, args.repeat) < 1:
        parser.error("--count, --latency and --repeat must be at least 1")
    with servers(args.redis_url, args.nats_url, args.only) as urls:
        rows = measure(urls, args.count, args.latency, args.repeat)
    print(render(rows, args.count, args.latency, args.repeat))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
