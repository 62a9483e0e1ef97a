"""Hand-written asyncio baselines for ``proxyflow_bench.asyncio_stream``.

What an asyncio programmer writes without proxyflow, with the same client
libraries: the transport's own asyncio API (``asyncio.Queue``, a
``zmq.asyncio`` PUB/SUB pair with unlimited high-water marks, ``redis.asyncio``
``RPUSH``/``BLPOP``), carrying either the 1 KiB payload (``inline``) or the
name of a file that a worker thread wrote and the reader reads and deletes in
a worker thread (``file``, a claim check by hand). A producer task and a
consumer task on one event loop, as for the asyncio stream.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path
from typing import Any

import redis.asyncio
import zmq
import zmq.asyncio

__all__ = ["raw_stream"]

TOPIC = b"bench"
HELLO = b"hello"


class _Channel:
    """One way of moving ``bytes`` from a producer task to a consumer task."""

    async def send(self, data: bytes) -> None:
        raise NotImplementedError

    async def receive(self) -> bytes:
        raise NotImplementedError

    async def close(self) -> None:
        """Release what the channel holds."""


class _QueueChannel(_Channel):
    def __init__(self) -> None:
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1000)

    async def send(self, data: bytes) -> None:
        await self._queue.put(data)

    async def receive(self) -> bytes:
        return await self._queue.get()


class _ZmqChannel(_Channel):
    def __init__(self) -> None:
        self._context = zmq.asyncio.Context()
        self._pub = self._context.socket(zmq.PUB)
        self._pub.setsockopt(zmq.SNDHWM, 0)  # never drop: the baseline must deliver all
        port = self._pub.bind_to_random_port("tcp://127.0.0.1")
        self._sub = self._context.socket(zmq.SUB)
        self._sub.setsockopt(zmq.RCVHWM, 0)
        self._sub.connect(f"tcp://127.0.0.1:{port}")
        self._sub.setsockopt(zmq.SUBSCRIBE, TOPIC)
        self._sub.setsockopt(zmq.SUBSCRIBE, HELLO)

    async def handshake(self) -> None:
        """Publish hellos until the subscriber gets one (ZeroMQ's slow joiner)."""
        for _ in range(1000):
            await self._pub.send_multipart([HELLO, b""])
            if await self._sub.poll(10):
                return
        raise RuntimeError("the ZeroMQ subscriber never joined")

    async def send(self, data: bytes) -> None:
        await self._pub.send_multipart([TOPIC, data])

    async def receive(self) -> bytes:
        while True:
            topic, data = await self._sub.recv_multipart()
            if topic == TOPIC:
                return bytes(data)

    async def close(self) -> None:
        self._pub.close(0)
        self._sub.close(0)
        self._context.term()


class _RedisChannel(_Channel):
    def __init__(self, url: str) -> None:
        self._key = f"proxyflow-bench:raw:{uuid.uuid4().hex}"
        self._sender = redis.asyncio.Redis.from_url(url, protocol=2)
        self._reader = redis.asyncio.Redis.from_url(url, protocol=2)

    async def send(self, data: bytes) -> None:
        await self._sender.rpush(self._key, data)

    async def receive(self) -> bytes:
        while True:
            reply: Any = await self._reader.blpop([self._key], 0.5)
            if reply is not None:
                return bytes(reply[1])

    async def close(self) -> None:
        await self._sender.aclose()
        await self._reader.aclose()


def _write(directory: Path, data: bytes) -> bytes:
    path = directory / uuid.uuid4().hex
    with open(path, "wb") as file:
        file.write(data)
    return os.fsencode(path)


def _read_and_delete(name: bytes) -> bytes:
    with open(name, "rb") as file:
        data = file.read()
    os.unlink(name)
    return data


async def raw_stream(
    shim: str, kind: str, count: int, redis_url: str, directory: Path, payload: bytes
) -> float:
    """Hand-written asyncio transfer of ``count`` payloads: objects per second."""
    channel: _Channel
    if shim == "queue":
        channel = _QueueChannel()
    elif shim == "zmq":
        channel = _ZmqChannel()
        await channel.handshake()
    else:
        channel = _RedisChannel(redis_url)
    files = directory / f"raw-{uuid.uuid4().hex}"
    files.mkdir()

    async def produce() -> None:
        for _ in range(count):
            if kind == "inline":
                await channel.send(payload)
            else:
                await channel.send(await asyncio.to_thread(_write, files, payload))

    async def consume() -> int:
        received = 0
        for _ in range(count):
            data = await channel.receive()
            if kind != "inline":
                data = await asyncio.to_thread(_read_and_delete, data)
            received += len(data) == len(payload)
        return received

    start = time.perf_counter()
    _, received = await asyncio.gather(produce(), consume())
    elapsed = time.perf_counter() - start
    await channel.close()
    if received != count:
        raise RuntimeError(f"hand-written {shim}/{kind}: received {received} of {count}")
    return count / elapsed
