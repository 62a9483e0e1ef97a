"""Quick throughput of the JetStream shim against raw nats-py doing the same, in one run.

Each case publishes N messages of 1 KiB (each acknowledged by the server) and
then consumes them one at a time from a durable pull consumer, acknowledging
each one. "confirmed" acknowledgements wait for the server's reply (the
shim's default, nats-py ``ack_sync``); "unconfirmed" ones do not (``confirm_acks=False``,
nats-py ``ack``). Prints messages per second and shim/raw ratios; asserts nothing.

    python packages/proxyflow-shim-nats/bench/throughput.py [--url nats://...] [--count N]

Without ``--url`` a private nats-server is started (proxyflow-testing's ``NatsServer``).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import nats
from nats.js import api

from proxyflow.shims.nats import (
    AsyncJetStreamPublisher,
    AsyncJetStreamSubscriber,
    JetStreamPublisher,
    JetStreamSubscriber,
)

PAYLOAD = b"x" * 1024


async def raw(url: str, count: int, confirm: bool, batch: int) -> tuple[float, float]:
    """nats-py alone: js.publish (awaits PubAck), pull fetch, ack_sync or ack."""
    stream = f"RAW{uuid.uuid4().hex[:8]}"
    client = await nats.connect(url)
    js = client.jetstream()
    await js.add_stream(name=stream, subjects=[f"{stream}.>"])
    try:
        start = time.perf_counter()
        for i in range(count):
            await js.publish(f"{stream}.a", PAYLOAD, headers={"Nats-Msg-Id": str(i)})
        publish = count / (time.perf_counter() - start)
        config = api.ConsumerConfig(ack_wait=30.0, max_ack_pending=1000)
        subscription = await js.pull_subscribe(f"{stream}.a", durable="w", config=config)
        start = time.perf_counter()
        received = 0
        while received < count:
            for msg in await subscription.fetch(batch, timeout=5.0):
                await (msg.ack_sync() if confirm else msg.ack())
                received += 1
        consume = count / (time.perf_counter() - start)
        return publish, consume
    finally:
        await js.delete_stream(stream)
        await client.close()


async def shim_async(url: str, count: int, confirm: bool, batch: int) -> tuple[float, float]:
    """The asyncio classes: send_message, then next_delivery + ack."""
    stream = f"ASY{uuid.uuid4().hex[:8]}"
    async with AsyncJetStreamPublisher(url, stream=stream) as publisher:
        start = time.perf_counter()
        for _ in range(count):
            await publisher.send_message("a", PAYLOAD)
        publish = count / (time.perf_counter() - start)
    async with AsyncJetStreamSubscriber(
        url, "a", durable="w", stream=stream, confirm_acks=confirm, batch=batch
    ) as subscriber:
        start = time.perf_counter()
        for _ in range(count):
            delivery = await subscriber.next_delivery(timeout=5.0)
            await delivery.ack()
        consume = count / (time.perf_counter() - start)
    await _delete(url, stream)
    return publish, consume


def shim_sync(url: str, count: int, confirm: bool, batch: int) -> tuple[float, float]:
    """The synchronous classes (on the shared loop thread): the same loop."""
    stream = f"SYN{uuid.uuid4().hex[:8]}"
    with JetStreamPublisher(url, stream=stream) as publisher:
        start = time.perf_counter()
        for _ in range(count):
            publisher.send_message("a", PAYLOAD)
        publish = count / (time.perf_counter() - start)
    with JetStreamSubscriber(
        url, "a", durable="w", stream=stream, confirm_acks=confirm, batch=batch
    ) as subscriber:
        start = time.perf_counter()
        for _ in range(count):
            subscriber.next_delivery(timeout=5.0).ack()
        consume = count / (time.perf_counter() - start)
    asyncio.run(_delete(url, stream))
    return publish, consume


def shim_sync_pipelined(url: str, count: int, window: int) -> float:
    """Synchronous sends with ``max_pending_acks=window``, then ``flush()``."""
    stream = f"PIP{uuid.uuid4().hex[:8]}"
    with JetStreamPublisher(url, stream=stream, max_pending_acks=window) as publisher:
        start = time.perf_counter()
        for _ in range(count):
            publisher.send_message("a", PAYLOAD)
        publisher.flush()
        rate = count / (time.perf_counter() - start)
    asyncio.run(_delete(url, stream))
    return rate


async def raw_pipelined(url: str, count: int, window: int) -> float:
    """nats-py ``publish_async`` with ``window`` pending acknowledgements."""
    stream = f"RAP{uuid.uuid4().hex[:8]}"
    client = await nats.connect(url)
    js = client.jetstream(publish_async_max_pending=window)
    await js.add_stream(name=stream, subjects=[f"{stream}.>"])
    try:
        start = time.perf_counter()
        futures = [await js.publish_async(f"{stream}.a", PAYLOAD) for _ in range(count)]
        await asyncio.gather(*futures)
        return count / (time.perf_counter() - start)
    finally:
        await js.delete_stream(stream)
        await client.close()


async def _delete(url: str, stream: str) -> None:
    client = await nats.connect(url)
    try:
        await client.jetstream().delete_stream(stream)
    finally:
        await client.close()


def _best(runs: int, make: Callable[[], Any]) -> Any:
    results = [make() for _ in range(runs)]
    if isinstance(results[0], tuple):
        return tuple(max(r[i] for r in results) for i in range(len(results[0])))
    return max(results)


def main() -> None:
    """Run every case and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    server = None
    url = args.url
    if url is None:
        from proxyflow.testing.nats_server import NatsServer

        server = NatsServer().start()
        url = server.url
    try:
        n, b, r = args.count, args.batch, args.repeat

        def run(coro: Callable[[], Coroutine[Any, Any, Any]]) -> Callable[[], Any]:
            return lambda: asyncio.run(coro())

        rows = []
        for confirm in (True, False):
            label = "confirmed" if confirm else "unconfirmed"
            base = _best(r, run(lambda c=confirm: raw(url, n, c, b)))
            rows.append((f"raw nats-py ({label} acks)", *base, 1.0, 1.0))
            for name, make in (
                ("shim async", run(lambda c=confirm: shim_async(url, n, c, b))),
                ("shim sync", lambda c=confirm: shim_sync(url, n, c, b)),
            ):
                pub, con = _best(r, make)
                rows.append((f"{name} ({label} acks)", pub, con, pub / base[0], con / base[1]))
        raw_pipe = _best(r, run(lambda: raw_pipelined(url, n, 256)))
        sync_pipe = _best(r, lambda: shim_sync_pipelined(url, n, 256))
        print(f"{n} messages of 1 KiB, best of {r}; publish = stored (PubAck), consume = ack each")
        print(f"{'':34} {'publish/s':>10} {'consume/s':>10} {'pub ratio':>10} {'con ratio':>10}")
        for label, pub, con, pub_ratio, con_ratio in rows:
            print(f"{label:34} {pub:10.0f} {con:10.0f} {pub_ratio:10.2f} {con_ratio:10.2f}")
        print(f"{'raw publish_async (256 pending)':34} {raw_pipe:10.0f}")
        print(
            f"{'shim sync max_pending_acks=256':34} {sync_pipe:10.0f} {'':10} "
            f"{sync_pipe / raw_pipe:10.2f}"
        )
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
