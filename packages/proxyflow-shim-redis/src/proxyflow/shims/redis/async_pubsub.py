"""Redis pub/sub on asyncio: ``AsyncRedisPublisher`` and ``AsyncRedisSubscriber``.

The asyncio forms of [`RedisPublisher`][proxyflow.shims.redis.pubsub.RedisPublisher]
and [`RedisSubscriber`][proxyflow.shims.redis.pubsub.RedisSubscriber], on
``redis.asyncio``: the same channels, fan-out, loss reports and errors.

Example:
    ```python
    import asyncio

    from proxyflow.shims.redis import AsyncRedisPublisher, AsyncRedisSubscriber


    async def main(url: str) -> bytes:
        async with AsyncRedisSubscriber(url, ["events"]) as subscriber:
            async with AsyncRedisPublisher(url) as publisher:
                await publisher.send_message("events", b"hello")
            return await subscriber.next_message(timeout=1.0)


    assert asyncio.run(main("redis://localhost:6379")) == b"hello"
    ```
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from proxyflow.api import Message, check_timeout
from proxyflow.shims.redis._async_base import AsyncRedisPublisherBase, AsyncRedisSubscriberBase
from proxyflow.shims.redis._async_channels import AsyncChannels
from proxyflow.shims.redis.connection import REDIS_ERRORS, broker_error, translate_errors
from proxyflow.shims.redis.exceptions import (
    BrokerConnectionError,
    PublishRejectedError,
    RedisShimError,
)
from proxyflow.shims.redis.pubsub import check_receivers
from proxyflow.shims.redis.reconnect import Outage

__all__ = ["AsyncRedisPublisher", "AsyncRedisSubscriber"]


class AsyncRedisPublisher(AsyncRedisPublisherBase):
    """Publishes messages with Redis ``PUBLISH`` on asyncio; each topic is a channel.

    Satisfies ``proxyflow.api.AsyncPublisher``. The behaviour of
    [`RedisPublisher`][proxyflow.shims.redis.pubsub.RedisPublisher], except
    that ``await send_message(...)`` returns once Redis confirmed the message
    (one round trip each; there is no ``max_unconfirmed``): a refusal, a
    lost connection or too few receivers is raised by the send it concerns.
    Open it with ``await publisher.open()`` or ``async with``; the first send
    opens it too.

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://...`` or ``unix://...``.
        socket_timeout: Seconds a read or write may take.
        connect_timeout: Seconds connecting may take.
        min_receivers: Subscribers each message must reach; a message that
            reaches fewer raises `MessageNotReceivedError` from its
            ``send_message``. ``0`` (the default) checks nothing.

    Raises:
        ValueError: if ``min_receivers`` is negative.
    """

    _label = "AsyncRedisPublisher"

    def __init__(
        self,
        url: str,
        *,
        socket_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        min_receivers: int = 0,
    ) -> None:
        if min_receivers < 0:
            raise ValueError(f"min_receivers must be >= 0, not {min_receivers}")
        super().__init__(url, socket_timeout=socket_timeout, connect_timeout=connect_timeout)
        self._min_receivers = min_receivers
        self._unreceived = 0

    @property
    def min_receivers(self) -> int:
        """Subscribers each message must reach (``0``: not checked)."""
        return self._min_receivers

    @property
    def unreceived(self) -> int:
        """Messages so far that Redis delivered to no subscriber (lost for everyone)."""
        return self._unreceived

    async def send_message(self, topic: str, message: Message) -> None:
        """Publish ``message`` on the channel ``topic``; returns once Redis confirmed it.

        Raises:
            PublisherClosedError: if the publisher was closed.
            MessageNotReceivedError: with ``min_receivers``, if this message
                reached fewer subscribers.
            PublishRejectedError: if Redis rejected the message
                (`BrokerAuthenticationError` for an ACL denial).
            BrokerConnectionError: if Redis cannot be reached (the message may
                or may not have been published); the next call connects again.
            TypeError: if ``topic`` is not a string or ``message`` not bytes-like.
        """
        client, payload = await self._ready(topic, message)
        with translate_errors(self._url, f"publishing on {topic!r}", PublishRejectedError):
            receivers = int(await client.publish(topic, payload))
        if not receivers:
            self._unreceived += 1
        check_receivers(topic, receivers, self._min_receivers, self.url, "AsyncRedisQueuePublisher")


class AsyncRedisSubscriber(AsyncRedisSubscriberBase):
    """Receives the messages published on one or more Redis channels, on asyncio.

    Satisfies ``proxyflow.api.AsyncSubscriber``. The behaviour and arguments of
    [`RedisSubscriber`][proxyflow.shims.redis.pubsub.RedisSubscriber]
    (fan-out, reconnection within ``reconnect_timeout``, counted in
    ``reconnects``, messages published meanwhile lost): open it with ``await
    subscriber.open()`` or ``async with`` (the first read opens it too); a
    message published once it is open is received. ``close()`` from another
    task ends a wait within ``poll_interval``. A task cancelled while it
    waits may lose the message being read at that moment, as pub/sub loses
    what reaches a subscriber that is gone; the next read goes on.

    Args:
        url: The Redis URL.
        topics: One channel name or a sequence of them.
        timeout: Seconds ``async for``, and ``next_message()`` without an
            argument, wait before raising `TimeoutError` (``None``: forever).
        socket_timeout: Seconds a read of a started message or a write may take.
        connect_timeout: Seconds connecting and subscribing may take.
        poll_interval: Longest single wait on the socket.
        reconnect_timeout: Seconds to keep trying to re-establish a lost
            connection (``None``: forever; ``0``: report the loss at once).

    Raises:
        ValueError: if no topic is given or a timeout is negative.
    """

    _label = "AsyncRedisSubscriber"

    def __init__(
        self,
        url: str,
        topics: str | Sequence[str],
        *,
        timeout: float | None = None,
        socket_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        poll_interval: float = 0.5,
        reconnect_timeout: float | None = 30.0,
    ) -> None:
        check_timeout(reconnect_timeout, "reconnect_timeout")
        super().__init__(url, topics, timeout=timeout, poll_interval=poll_interval)
        self._socket_timeout = socket_timeout
        self._connect_timeout = connect_timeout
        self._reconnect_timeout = reconnect_timeout
        self._channels: AsyncChannels | None = None
        self._outage: Outage | None = None
        self._broken: RedisShimError | None = None
        self._reconnects = 0

    @property
    def reconnects(self) -> int:
        """How many times a lost connection was re-established (each may have lost messages)."""
        return self._reconnects

    async def _connect(self) -> AsyncChannels:
        return await AsyncChannels.open(
            self._url,
            self._topics,
            socket_timeout=self._socket_timeout,
            connect_timeout=self._connect_timeout,
        )

    async def _open(self) -> None:
        self._channels = await self._connect()

    async def _take(self, wait: float) -> bytes | None:
        if self._broken is not None:
            raise self._broken
        if self._outage is not None:
            await self._recover(wait)
            return None
        assert self._channels is not None
        try:
            return await self._channels.get(wait)
        except REDIS_ERRORS as exc:
            error = broker_error(exc, self._url, f"reading {list(self._topics)} (subscriber)")
            if not isinstance(error, BrokerConnectionError):
                raise error from exc
            if self._reconnect_timeout == 0:
                self._broken = BrokerConnectionError(
                    f"{error}: the connection of the subscriber to {list(self._topics)} is lost",
                    error.url,
                )
                raise self._broken from exc
            await self._channels.close()
            self._outage = Outage(time.monotonic(), self._reconnect_timeout, error)
            return None

    async def _recover(self, wait: float) -> None:
        """Try to reconnect when the next attempt is due; wait at most ``wait`` s."""
        outage = self._outage
        assert outage is not None
        now = time.monotonic()
        if outage.expired(now):
            self._outage = None
            self._broken = outage.gave_up(list(self._topics))
            raise self._broken
        pause = outage.until_next_attempt(now)
        if pause > 0:
            await asyncio.sleep(min(wait, pause))  # at most poll_interval: close() stays prompt
            return
        try:
            self._channels = await self._connect()
        except BrokerConnectionError as error:
            outage.failed(time.monotonic(), error)
            return
        except RedisShimError as error:
            self._outage = None  # refused credentials, not Redis any more: no use retrying
            self._broken = error
            raise
        self._outage = None
        self._reconnects += 1

    async def _release(self, late: list[bytes]) -> None:
        # Messages read after the close are dropped, as pub/sub drops what
        # reaches a subscriber that has gone.
        if self._channels is not None and self._outage is None:
            await self._channels.close()
        self._channels = None
