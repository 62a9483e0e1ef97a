"""Picklable descriptions of connectors and broker shims, built where they are used."""

from __future__ import annotations

import queue
from dataclasses import dataclass
from typing import Any

from proxyflow.store.protocols import Connector
from proxyflow.stream.protocols import Publisher, Subscriber

CONNECTOR_KINDS = ("local", "file", "redis")
SHIM_KINDS = ("queue", "redis", "redis-queue", "zmq")
ZMQ_BIND = "tcp://127.0.0.1:*"


@dataclass(frozen=True)
class ConnectorSpec:
    """How to build a connector: ``local`` (threads only), ``file`` or ``redis``."""

    kind: str
    location: str = ""  # a directory or a redis URL
    prefix: str = ""

    def build(self) -> Connector:
        if self.kind == "local":
            from proxyflow.connectors.local import LocalConnector

            return LocalConnector()
        if self.kind == "file":
            from proxyflow.connectors.file import FileConnector

            return FileConnector(self.location)
        from proxyflow.connectors.redis import RedisConnector

        return RedisConnector(self.location, prefix=self.prefix)


@dataclass(frozen=True)
class BrokerSpec:
    """How to build a publisher and its subscribers for one topic.

    ``channel`` is the queue of the queue shim (a ``queue.Queue`` for threads,
    a ``multiprocessing`` queue for processes); ``url`` the redis URL.
    """

    kind: str
    topic: str
    url: str = ""
    channel: Any = None

    @property
    def subscribe_first(self) -> bool:
        """Whether subscribers must exist before the publisher sends (all but zmq,
        whose publisher binds the address subscribers connect to)."""
        return self.kind != "zmq"

    def publisher(self) -> Publisher:
        if self.kind == "queue":
            from proxyflow.shims.queue import QueuePublisher

            return QueuePublisher({self.topic: self.channel})
        if self.kind == "redis":
            from proxyflow.shims.redis import RedisPublisher

            return RedisPublisher(self.url)
        if self.kind == "redis-queue":
            from proxyflow.shims.redis import RedisQueuePublisher

            return RedisQueuePublisher(self.url)
        from proxyflow.shims.zmq import ZeroMQPublisher

        return ZeroMQPublisher(ZMQ_BIND)

    def subscriber(self, address: str = "") -> Subscriber:
        if self.kind == "queue":
            from proxyflow.shims.queue import QueueSubscriber

            return QueueSubscriber(self.channel, topics=[self.topic])
        if self.kind == "redis":
            from proxyflow.shims.redis import RedisSubscriber

            return RedisSubscriber(self.url, [self.topic])
        if self.kind == "redis-queue":
            from proxyflow.shims.redis import RedisQueueSubscriber

            return RedisQueueSubscriber(self.url, [self.topic])
        from proxyflow.shims.zmq import ZeroMQSubscriber

        return ZeroMQSubscriber(address, [self.topic])


def new_channel(ctx: Any | None = None) -> Any:
    """A queue for the queue shim: thread-only, or a multiprocessing one from ``ctx``."""
    return queue.Queue() if ctx is None else ctx.Queue()


def count_objects(spec: ConnectorSpec, connector: Any) -> int:
    """How many objects the storage of ``spec`` holds (for redis: keys under its prefix)."""
    if spec.kind == "redis":
        import redis

        client = redis.Redis.from_url(spec.location)
        try:
            return sum(1 for _ in client.scan_iter(match=spec.prefix + "*"))
        finally:
            client.close()
    return int(connector.stats()["objects"])
