"""Picklable descriptions of a durable broker and of the store, built where they are used."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SHIMS = ("redis-streams", "jetstream")
"""The durable shims the suite drives."""

GROUP = "faults"
"""The consumer group (Redis Streams) or durable name (JetStream) every consumer joins."""


@dataclass(frozen=True)
class BrokerSpec:
    """How to build the publisher and the subscribers of one durable broker.

    Attributes:
        shim: ``"redis-streams"`` or ``"jetstream"``.
        url: The broker's URL.
        topic: The topic of the scenario.
        namespace: The stream-key prefix (Redis) or the stream name (JetStream).
        visibility: Seconds an unsettled delivery stays with its consumer
            before the broker hands it out again.
    """

    shim: str
    url: str
    topic: str
    namespace: str
    visibility: float = 1.0

    def publisher(self) -> Any:
        """A publisher whose sends return once the broker stored the message."""
        if self.shim == "redis-streams":
            from proxyflow.shims.redis import RedisStreamPublisher

            return RedisStreamPublisher(self.url, prefix=self.namespace)
        from proxyflow.shims.nats import JetStreamPublisher

        return JetStreamPublisher(
            self.url,
            stream=self._stream(),
            publish_timeout=3.0,
            connect_timeout=2.0,
            reconnect_time_wait=0.1,
        )

    def subscriber(self, read_ahead: int) -> Any:
        """A subscriber of the shared group, reading up to ``read_ahead`` messages at once."""
        if self.shim == "redis-streams":
            from proxyflow.shims.redis import RedisStreamSubscriber

            return RedisStreamSubscriber(
                self.url,
                self.topic,
                group=GROUP,
                prefix=self.namespace,
                visibility_timeout=self.visibility,
                max_deliveries=None,
                batch=read_ahead,
                socket_timeout=2.0,
                connect_timeout=1.0,
                poll_interval=0.2,
            )
        from proxyflow.shims.nats import JetStreamSubscriber

        return JetStreamSubscriber(
            self.url,
            self.topic,
            durable=GROUP,
            stream=self._stream(),
            ack_wait=self.visibility,
            max_deliver=None,
            batch=read_ahead,
            connect_timeout=2.0,
            reconnect_time_wait=0.1,
        )

    def error_roots(self) -> tuple[type[Exception], ...]:
        """The root classes of the shim's errors (to tell broker failures from store ones)."""
        if self.shim == "redis-streams":
            from proxyflow.shims.redis import RedisShimError

            return (RedisShimError,)
        from proxyflow.shims.nats import NatsShimError

        return (NatsShimError,)

    def _stream(self) -> Any:
        from proxyflow.shims.nats import StreamSettings

        return StreamSettings(self.namespace, storage="file")


@dataclass(frozen=True)
class StoreSpec:
    """A store on a private Redis server: its URL, the key prefix and store name of the scenario.

    Producer and consumers build the same store; the consumers hand theirs to
    ``StreamConsumer(store_overrides=...)``, so they read with their own
    client settings and trust the store without a signing key.
    """

    url: str
    prefix: str
    name: str

    def build(self) -> Any:
        """A ``Store`` without a cache (every ``get`` asks the server), with short timeouts."""
        from proxyflow.connectors.redis import RedisConnector
        from proxyflow.store import Store

        connector = RedisConnector(
            self.url, prefix=self.prefix, socket_timeout=1.0, connect_timeout=1.0
        )
        return Store(self.name, connector, cache_size=0)

    def count(self) -> int:
        """How many objects the scenario's prefix holds on the server."""
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=5.0)
        try:
            return sum(1 for _ in client.scan_iter(match=self.prefix + "*", count=1000))
        finally:
            client.close()
