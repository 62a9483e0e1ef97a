"""The JetStream cases of the durable-broker benchmark (``proxyflow_bench.durable``).

Raw nats-py, the synchronous shim (its asyncio core on a background loop
thread) and the asyncio shim (on the caller's loop), measured alike: ``N``
sends each awaiting the server's ``PubAck``, ``N`` receives each acknowledged
with the server's confirmation, and ``L`` round trips of one message. The two
shim cases separate the cost of the thread hop from the cost of the core.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import nats
from nats.js import api

from proxyflow.shims.nats import (
    AsyncJetStreamPublisher,
    AsyncJetStreamSubscriber,
    JetStreamPublisher,
    JetStreamSubscriber,
    StreamSettings,
)
from proxyflow_bench.durable_measure import PAYLOAD, Measure, measure_acking, median_us, rate

__all__ = ["Measure", "async_shim_jetstream", "raw_jetstream", "shim_jetstream"]

FETCH = 64


async def _raw_jetstream(url: str, count: int, rounds: int) -> Measure:
    stream = f"RAW{uuid.uuid4().hex[:8]}"
    client = await nats.connect(url)
    js = client.jetstream()
    await js.add_stream(name=stream, subjects=[f"{stream}.>"])
    try:
        start = time.perf_counter()
        for _ in range(count):
            await js.publish(f"{stream}.a", PAYLOAD)
        publish = rate(count, start)
        config = api.ConsumerConfig(ack_wait=30.0, max_ack_pending=1000)
        pull = await js.pull_subscribe(f"{stream}.a", durable="w", config=config)
        start = time.perf_counter()
        received = 0
        while received < count:
            for msg in await pull.fetch(FETCH, timeout=5.0):
                await msg.ack_sync()
                received += 1
        consume = rate(count, start)
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            await js.publish(f"{stream}.a", PAYLOAD)
            (msg,) = await pull.fetch(1, timeout=5.0)
            await msg.ack_sync()
            samples.append(time.perf_counter() - start)
        return Measure(publish, consume, median_us(samples))
    finally:
        await js.delete_stream(stream)
        await client.close()


def raw_jetstream(url: str, count: int, rounds: int) -> Measure:
    """nats-py alone: js.publish (awaits the PubAck); pull fetch of 64; ack_sync each."""
    return asyncio.run(_raw_jetstream(url, count, rounds))


def shim_jetstream(url: str, count: int, rounds: int) -> Measure:
    """JetStreamPublisher; JetStreamSubscriber.next_delivery + confirmed ack (sync classes)."""
    stream = StreamSettings(f"SHM{uuid.uuid4().hex[:8]}", storage="file")
    with (
        JetStreamPublisher(url, stream=stream) as publisher,
        JetStreamSubscriber(url, "a", durable="w", stream=stream, batch=FETCH) as subscriber,
    ):
        measure = measure_acking(publisher, subscriber, count, rounds)
    asyncio.run(_delete_stream(url, stream.name))
    return measure


async def _async_shim_jetstream(url: str, count: int, rounds: int) -> Measure:
    stream = StreamSettings(f"ASH{uuid.uuid4().hex[:8]}", storage="file")
    async with (
        AsyncJetStreamPublisher(url, stream=stream) as publisher,
        AsyncJetStreamSubscriber(url, "a", durable="w", stream=stream, batch=FETCH) as subscriber,
    ):
        start = time.perf_counter()
        for _ in range(count):
            await publisher.send_message("a", PAYLOAD)
        publish = rate(count, start)
        start = time.perf_counter()
        for _ in range(count):
            await (await subscriber.next_delivery(timeout=5.0)).ack()
        consume = rate(count, start)
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            await publisher.send_message("a", PAYLOAD)
            await (await subscriber.next_delivery(timeout=5.0)).ack()
            samples.append(time.perf_counter() - start)
    await _delete_stream(url, stream.name)
    return Measure(publish, consume, median_us(samples))


def async_shim_jetstream(url: str, count: int, rounds: int) -> Measure:
    """AsyncJetStreamPublisher; AsyncJetStreamSubscriber.next_delivery + confirmed ack."""
    return asyncio.run(_async_shim_jetstream(url, count, rounds))


async def _delete_stream(url: str, name: str) -> None:
    client = await nats.connect(url)
    try:
        await client.jetstream().delete_stream(name)
    finally:
        await client.close()
