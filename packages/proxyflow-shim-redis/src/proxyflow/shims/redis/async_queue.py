"""Redis lists as work queues on asyncio: the publisher and subscriber of list topics.

The asyncio forms of [`RedisQueuePublisher`][proxyflow.shims.redis.queue.RedisQueuePublisher]
and [`RedisQueueSubscriber`][proxyflow.shims.redis.queue.RedisQueueSubscriber]:
the same list keys, roster hashes, guarantees (at most once) and errors, so
synchronous and asyncio producers and consumers can share a topic.

Example:
    ```python
    import asyncio

    from proxyflow.shims.redis import AsyncRedisQueuePublisher, AsyncRedisQueueSubscriber


    async def main(url: str) -> bytes:
        async with AsyncRedisQueuePublisher(url) as publisher:
            await publisher.send_message("jobs", b"job-1")  # kept until someone reads it
        async with AsyncRedisQueueSubscriber(url, ["jobs"]) as worker:
            return await worker.next_message(timeout=1.0)


    assert asyncio.run(main("redis://localhost:6379")) == b"job-1"
    ```
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import redis.asyncio

from proxyflow.api import Message, Roster
from proxyflow.shims.redis._async_base import AsyncRedisPublisherBase, AsyncRedisSubscriberBase
from proxyflow.shims.redis._list_queue import (
    AsyncListPopper,
    Popped,
    check_poll_interval,
    roster_field,
    topic_roster_key,
)
from proxyflow.shims.redis.connection import (
    REDIS_ERRORS,
    broker_error,
    dedicated_async_connection,
    open_async_client,
    translate_errors,
)
from proxyflow.shims.redis.exceptions import (
    BrokerConnectionError,
    PublishRejectedError,
    RedisShimError,
    SubscriberClosedError,
)
from proxyflow.shims.redis.queue import DEFAULT_QUEUE_PREFIX
from proxyflow.shims.redis.roster import JOINED, LEFT, parse_roster

__all__ = ["AsyncRedisQueuePublisher", "AsyncRedisQueueSubscriber"]


class AsyncRedisQueuePublisher(AsyncRedisPublisherBase):
    """Appends messages to one Redis list per topic (``RPUSH``), on asyncio.

    Satisfies ``proxyflow.api.AsyncPublisher`` and
    ``AsyncWorkSharingPublisher``. The behaviour of
    [`RedisQueuePublisher`][proxyflow.shims.redis.queue.RedisQueuePublisher]
    with its default ``max_unconfirmed=0``: ``await send_message(...)``
    returns once Redis stored the message. The producers' roster of each
    topic is kept with ``join``, ``leave`` and ``clear_roster`` (coroutines).
    Open it with ``await publisher.open()`` or ``async with``; the first call
    opens it too.

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://`` URL.
        prefix: Prefix of the list keys; the key of topic ``t`` is ``prefix + t``.
        socket_timeout: Seconds a read or write may take.
        connect_timeout: Seconds connecting may take.
    """

    _label = "AsyncRedisQueuePublisher"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_QUEUE_PREFIX,
        socket_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
    ) -> None:
        super().__init__(url, socket_timeout=socket_timeout, connect_timeout=connect_timeout)
        self._prefix = prefix

    @property
    def prefix(self) -> str:
        """The key prefix of the topic lists."""
        return self._prefix

    async def send_message(self, topic: str, message: Message) -> None:
        """Append ``message`` to the list of ``topic``; returns once Redis stored it.

        Raises:
            PublisherClosedError: if the publisher was closed.
            BrokerFullError: if Redis reached its ``maxmemory`` (the message is not stored).
            PublishRejectedError: if Redis rejected the message (the key holds
                another type, say; `BrokerAuthenticationError` for an ACL denial).
            BrokerConnectionError: if Redis cannot be reached (the message may
                or may not be stored); the next call connects again.
            TypeError: if ``topic`` is not a string or ``message`` not bytes-like.
        """
        client, payload = await self._ready(topic, message)
        with translate_errors(self._url, f"pushing to {topic!r}", PublishRejectedError):
            await client.rpush(self._prefix + topic, payload)

    async def join(self, topic: str, producer_id: bytes) -> None:
        """Record in the roster of ``topic`` that ``producer_id`` publishes on it (idempotent).

        Raises:
            BrokerFullError: if Redis reached its ``maxmemory``.
            BrokerConnectionError: if Redis cannot be reached.
            TypeError: if ``topic`` is not a string or ``producer_id`` not bytes.
            ValueError: if ``producer_id`` is empty.
        """
        await self._record(topic, JOINED, producer_id, "joining")

    async def leave(self, topic: str, producer_id: bytes) -> None:
        """Record that ``producer_id`` sent its last message on ``topic`` (idempotent).

        Call it once the producer's sends have returned (each is confirmed).

        Raises:
            BrokerConnectionError: if Redis cannot be reached.
            TypeError: if ``topic`` is not a string or ``producer_id`` not bytes.
            ValueError: if ``producer_id`` is empty.
        """
        await self._record(topic, LEFT, producer_id, "leaving")

    async def clear_roster(self, topic: str) -> None:
        """Forget every producer of ``topic``: do it before reusing a finished topic's name.

        Raises:
            BrokerConnectionError: if Redis cannot be reached.
        """
        key = self._roster_key(topic)
        client = await self._connected("clear_roster()")
        with translate_errors(self._url, f"clearing the roster of {topic!r}"):
            await client.delete(key)

    def _roster_key(self, topic: str) -> str:
        return topic_roster_key(self._prefix, topic)

    async def _record(self, topic: str, kind: bytes, producer_id: bytes, doing: str) -> None:
        key = self._roster_key(topic)
        field = roster_field(kind, producer_id)
        client = await self._connected("a roster change")
        with translate_errors(self._url, f"{doing} the roster of {topic!r}"):
            await client.hset(key, field, b"1")

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"{self._label}({self.url!r}, prefix={self._prefix!r}, {state})"


class AsyncRedisQueueSubscriber(AsyncRedisSubscriberBase):
    """Takes messages from the Redis lists of one or more topics (``BLPOP``), on asyncio.

    Satisfies ``proxyflow.api.AsyncSubscriber`` and
    ``AsyncWorkSharingSubscriber``. The behaviour and arguments of
    [`RedisQueueSubscriber`][proxyflow.shims.redis.queue.RedisQueueSubscriber]:
    FIFO per topic (rotating over several), each message to exactly one
    subscriber, ``roster(topic)`` for the end of a topic, at most once, and a
    lost connection reported then and on every later read (no silent
    reconnect: a restart may have lost the backlog). Open it with ``await
    subscriber.open()`` or ``async with`` (the first read opens it too).

    Asyncio adds two cases, neither of which loses a message: ``close()``
    from another task ends a wait within ``poll_interval`` and pushes back to
    the head of its list a message popped meanwhile; a task cancelled while it
    waits leaves the pop running, and the next ``next_message`` returns what it
    took (or ``close()`` pushes it back).

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://`` URL.
        topics: One topic or a sequence of them.
        prefix: Prefix of the list keys (as given to the publisher).
        timeout: Seconds ``async for``, and ``next_message()`` without an
            argument, wait before raising `TimeoutError` (``None``: forever).
        socket_timeout: Seconds a read or write may take; must exceed ``poll_interval``.
        connect_timeout: Seconds connecting may take.
        poll_interval: Longest single ``BLPOP`` wait.

    Raises:
        ValueError: if no topic is given or the timeouts do not fit together.
    """

    _label = "AsyncRedisQueueSubscriber"

    def __init__(
        self,
        url: str,
        topics: str | Sequence[str],
        *,
        prefix: str = DEFAULT_QUEUE_PREFIX,
        timeout: float | None = None,
        socket_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        poll_interval: float = 0.5,
    ) -> None:
        super().__init__(url, topics, timeout=timeout, poll_interval=poll_interval)
        check_poll_interval(socket_timeout, poll_interval)
        self._prefix = prefix
        self._timeouts = (socket_timeout, connect_timeout)
        self._client: redis.asyncio.Redis | None = None
        self._connection: Any = None
        self._popper: AsyncListPopper | None = None
        self._broken: RedisShimError | None = None

    @property
    def prefix(self) -> str:
        """The key prefix of the topic lists."""
        return self._prefix

    async def _open(self) -> None:
        socket_timeout, connect_timeout = self._timeouts
        client = await open_async_client(
            self._url, socket_timeout=socket_timeout, connect_timeout=connect_timeout
        )
        try:
            # Pops go through a connection of our own: the pool would replace a
            # dead one silently, hiding a restart that lost the backlog.
            self._connection = await dedicated_async_connection(client, self._url)
        except BaseException:
            await client.aclose()
            raise
        self._client = client
        self._popper = AsyncListPopper(
            self._connection, [self._prefix + topic for topic in self._topics], self._url
        )

    async def _popped(self, wait: float) -> Popped | None:
        """Return what the current pop took, starting one if none is running."""
        if self._broken is not None:
            raise self._broken
        assert self._popper is not None
        try:
            return await self._popper.take(wait)
        except REDIS_ERRORS as exc:
            error = broker_error(exc, self._url, f"reading {list(self._topics)} (queue subscriber)")
            if isinstance(error, BrokerConnectionError):
                self._broken = BrokerConnectionError(
                    f"{error}: the connection of the queue subscriber to {list(self._topics)} "
                    "is lost",
                    error.url,
                )
                raise self._broken from exc
            raise error from exc

    async def _take(self, wait: float) -> bytes | None:
        popped = await self._popped(wait)
        if popped is None:
            return None
        if self._closed:  # popped after the close: back to the head of its list
            assert self._popper is not None
            await self._popper.give_back(popped)
            return None
        return popped.value

    async def roster(self, topic: str) -> Roster:
        """Return the producers that joined and left ``topic`` so far (one ``HKEYS``).

        Raises:
            SubscriberClosedError: if the subscriber was closed.
            BrokerConnectionError: if Redis cannot be reached.
            TypeError: if ``topic`` is not a string.
        """
        if self._closed:
            raise SubscriberClosedError(f"roster() on a closed {self._label}")
        key = topic_roster_key(self._prefix, topic)
        await self.open()
        assert self._client is not None
        with translate_errors(self._url, f"reading the roster of {topic!r}"):
            fields = await self._client.hkeys(key)
        return parse_roster(fields)  # type: ignore[arg-type]

    async def _release(self, late: list[bytes]) -> None:
        # _take pushed back what it popped after the close, so ``late`` is empty;
        # a pop left running by a cancelled reader is finished and given back here.
        try:
            if self._popper is not None and self._broken is None:
                await self._popper.give_back_pending()
        finally:
            connection, client = self._connection, self._client
            self._connection = self._client = None
            if connection is not None and client is not None:
                with contextlib.suppress(*REDIS_ERRORS):
                    await connection.disconnect()
                with contextlib.suppress(*REDIS_ERRORS):
                    await client.connection_pool.release(connection)
                await client.aclose()
