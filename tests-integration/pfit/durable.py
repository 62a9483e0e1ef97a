"""Durable brokers for the acknowledgement tests: Redis Streams and NATS JetStream.

Each test gets its own names (Redis stream prefix, JetStream stream), so tests
sharing the session's servers never see each other's messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from typing import Any

from proxyflow.connectors.file import FileConnector

TOPIC = "jobs"
DEAD = "dead"


class FlakyFileConnector(FileConnector):
    """A file connector whose reads fail while ``down`` is set (a store outage)."""

    down = False

    def get(self, key: Any, *, evict: bool = False) -> Any:
        if self.down:
            from proxyflow.api import BackendUnavailableError

            raise BackendUnavailableError("the store is unreachable (test outage)")
        return super().get(key, evict=evict)

    def get_batch(self, keys: Sequence[Any], *, evict: bool = False) -> list[Any]:
        if self.down:
            from proxyflow.api import BackendUnavailableError

            raise BackendUnavailableError("the store is unreachable (test outage)")
        return super().get_batch(keys, evict=evict)


class Durable:
    """Publishers and subscribers of one durable broker, on names of this test.

    Args:
        kind: ``"redis"`` or ``"nats"``.
        url: The server's URL.
        visibility: Seconds before an unsettled delivery is handed out again.
        max_deliveries: Deliveries before the broker dead-letters a message.
    """

    def __init__(
        self, kind: str, url: str, *, visibility: float = 1.0, max_deliveries: int | None = 10
    ) -> None:
        self.kind = kind
        self.url = url
        self.visibility = visibility
        self.max_deliveries = max_deliveries
        self.name = f"A{uuid.uuid4().hex[:12]}"
        self._made: list[Any] = []

    def publisher(self) -> Any:
        if self.kind == "redis":
            from proxyflow.shims.redis import RedisStreamPublisher

            made: Any = RedisStreamPublisher(self.url, prefix=f"{self.name}:")
        else:
            from proxyflow.shims.nats import JetStreamPublisher

            made = JetStreamPublisher(self.url, stream=self.name)
        self._made.append(made)
        return made

    def subscriber(
        self,
        topics: Sequence[str] = (TOPIC,),
        group: str = "workers",
        dead_letter: str | None = DEAD,
    ) -> Any:
        """A subscriber of ``group``: subscribers of one group share the messages."""
        if self.kind == "redis":
            from proxyflow.shims.redis import RedisStreamSubscriber

            made: Any = RedisStreamSubscriber(
                self.url,
                list(topics),
                group=group,
                prefix=f"{self.name}:",
                visibility_timeout=self.visibility,
                claim_interval=self.visibility / 4,
                max_deliveries=self.max_deliveries,
                dead_letter=dead_letter,
                poll_interval=0.1,
            )
        else:
            from proxyflow.shims.nats import JetStreamSubscriber

            made = JetStreamSubscriber(
                self.url,
                list(topics),
                durable=group,
                stream=self.name,
                ack_wait=self.visibility,
                max_deliver=self.max_deliveries,
                dead_letter_topic=dead_letter,
            )
        self._made.append(made)
        return made

    def dead_letters(self) -> Any:
        """A subscriber of the dead-letter topic."""
        return self.subscriber((DEAD,), group="inspector", dead_letter=None)

    def close(self) -> None:
        for made in reversed(self._made):
            with contextlib.suppress(Exception):
                made.close()
        if self.kind == "nats":
            with contextlib.suppress(Exception):
                asyncio.run(_delete_stream(self.url, self.name))


async def _delete_stream(url: str, name: str) -> None:
    import nats

    client = await nats.connect(url, allow_reconnect=False, connect_timeout=2)
    try:
        await client.jetstream().delete_stream(name)
    finally:
        await client.close()
