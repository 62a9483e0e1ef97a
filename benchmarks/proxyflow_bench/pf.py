"""proxyflow channels: ``StreamProducer`` / ``StreamConsumer`` over proxyflow's shims and stores.

The producer sends each object with ``evict=True`` and the send time and tag
in the event metadata; the consumer takes the proxy from ``next_with_metadata``
and resolves it (``extract``), which reads and evicts the object in one step.
With ``--prefetch K`` the consumer is ``StreamConsumer(prefetch=K)`` and takes
resolved objects from ``next_object_with_metadata`` instead.
A thin wrapper around the publisher counts the bytes of every message, which
gives the bytes per event.
"""

from __future__ import annotations

import os
from typing import Any

from proxyflow_bench.spec import Config, TrialSpec

__all__ = ["CountingPublisher", "open_pf_consumer", "open_pf_producer"]

CONSUMER_TIMEOUT = 60.0


class CountingPublisher:
    """Forwards to a publisher and counts the bytes of the messages it sends."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.bytes_sent = 0
        self.messages = 0

    def send_message(self, topic: str, message: Any) -> None:
        self.bytes_sent += len(message)
        self.messages += 1
        self.inner.send_message(topic, message)

    def close(self) -> None:
        self.inner.close()


def _publisher(config: Config, env: dict[str, Any]) -> Any:
    topic = env["topic"]
    if config.broker == "zmq":
        from proxyflow.shims.zmq import ZeroMQPublisher

        return ZeroMQPublisher(env["zmq_address"], **env.get("pf_zmq_publisher", {}))
    if config.broker == "redis":
        from proxyflow.shims.redis import RedisPublisher

        return RedisPublisher(env["redis_url"])
    if config.broker == "redisq":
        from proxyflow.shims.redis import RedisQueuePublisher

        return RedisQueuePublisher(env["redis_url"], prefix=env["prefix"] + ":q:")
    if config.broker == "queue":
        from proxyflow.shims.queue import QueuePublisher

        return QueuePublisher({topic: env["mp_queue"]})
    raise ValueError(f"unknown broker {config.broker!r}")


def _subscriber(config: Config, env: dict[str, Any]) -> Any:
    topic = env["topic"]
    if config.broker == "zmq":
        from proxyflow.shims.zmq import ZeroMQSubscriber

        return ZeroMQSubscriber(env["zmq_address"], [topic], **env.get("pf_zmq_subscriber", {}))
    if config.broker == "redis":
        from proxyflow.shims.redis import RedisSubscriber

        return RedisSubscriber(env["redis_url"], [topic])
    if config.broker == "redisq":
        from proxyflow.shims.redis import RedisQueueSubscriber

        return RedisQueueSubscriber(env["redis_url"], [topic], prefix=env["prefix"] + ":q:")
    if config.broker == "queue":
        from proxyflow.shims.queue import QueueSubscriber

        return QueueSubscriber(env["mp_queue"], topics=[topic])
    raise ValueError(f"unknown broker {config.broker!r}")


def _store(config: Config, env: dict[str, Any]) -> Any:
    if config.store == "inline":
        return None
    from proxyflow.store import Store

    name = f"{env['prefix']}-{config.name}"
    if config.store == "file":
        from proxyflow.connectors.file import FileConnector

        os.makedirs(env["file_dir"], exist_ok=True)
        connector: Any = FileConnector(env["file_dir"])
        return Store(name, connector)
    from proxyflow.connectors.redis import RedisConnector

    connector = RedisConnector(env["redis_url"], prefix=env["prefix"] + ":s:")
    return Store(name, connector)


class PfProducer:
    """A ``StreamProducer`` on one topic."""

    def __init__(self, config: Config, env: dict[str, Any]) -> None:
        from proxyflow.stream import StreamProducer

        self._topic = env["topic"]
        self._publisher = CountingPublisher(_publisher(config, env))
        store = _store(config, env)
        self._producer = StreamProducer(
            self._publisher, stores={self._topic: store}, batch_size=env.get("batch_size", 1)
        )

    @property
    def bytes_sent(self) -> int:
        return self._publisher.bytes_sent

    def prepare(self, obj: Any) -> Any:
        return obj

    def send(self, obj: Any, ts_ns: int, tag: int) -> None:
        self._producer.send(self._topic, obj, evict=True, metadata={"t": ts_ns, "g": tag})

    def close(self) -> None:
        self._producer.close()


class PfConsumer:
    """A ``StreamConsumer`` whose proxies are resolved as they arrive."""

    def __init__(self, config: Config, env: dict[str, Any]) -> None:
        from proxyflow.proxy import Proxy, extract
        from proxyflow.stream import TRUST_ALL, StreamConsumer

        prefetch = env.get("prefetch", 0)
        self._consumer = StreamConsumer(
            _subscriber(config, env),
            timeout=CONSUMER_TIMEOUT,
            prefetch=prefetch,
            trusted_locations=[TRUST_ALL],  # the run's own producer, on a private topic
        )
        self._proxy_type = Proxy
        self._extract = extract
        self._take = (
            self._consumer.next_object_with_metadata
            if prefetch
            else self._consumer.next_with_metadata
        )

    def set_trial(self, spec: TrialSpec) -> None:
        pass

    def recv(self, timeout: float) -> tuple[Any, int, int]:
        metadata, item = self._take()
        if type(item) is self._proxy_type:
            item = self._extract(item)
        return item, metadata["t"], metadata["g"]

    def close(self) -> None:
        self._consumer.close()


def open_pf_producer(config: Config, env: dict[str, Any]) -> PfProducer:
    """Return the proxyflow producer channel of ``config``."""
    return PfProducer(config, env)


def open_pf_consumer(config: Config, env: dict[str, Any]) -> PfConsumer:
    """Return the proxyflow consumer channel of ``config``."""
    return PfConsumer(config, env)
