"""``AsyncRedisStreamSubscriber``: the asyncio form of ``RedisStreamSubscriber``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import redis
import redis.asyncio

from proxyflow.api import (
    CONFIGURED,
    AsyncOpenable,
    Configured,
    GroupBacklog,
    Message,
    Roster,
    check_timeout,
    normalise_topics,
    redact_url,
)
from proxyflow.shims.redis._async_readers import Readers
from proxyflow.shims.redis._streams_async_group import AsyncGroupReader
from proxyflow.shims.redis._streams_server import CLAIM_VERSION, check_version
from proxyflow.shims.redis._streams_settings import DeliverPolicy, GroupSettings
from proxyflow.shims.redis.connection import open_async_client, translate_errors
from proxyflow.shims.redis.exceptions import SubscriberClosedError, SubscriberTimeoutError
from proxyflow.shims.redis.stream_delivery import AsyncRedisStreamDelivery
from proxyflow.shims.redis.stream_keys import (
    DEFAULT_DEAD_LETTER_TOPIC,
    DEFAULT_STREAM_PREFIX,
    StreamKeys,
)

__all__ = ["AsyncRedisStreamSubscriber"]


class AsyncRedisStreamSubscriber(AsyncOpenable):
    """Reads topics through a Redis Streams consumer group, on asyncio.

    Satisfies ``proxyflow.api.AsyncAckingSubscriber`` (and
    ``AsyncSubscriber``), ``AsyncWorkSharingSubscriber`` and
    ``AsyncDrainableSubscriber`` (``backlog(topic)``), with the guarantees and arguments of
    [`RedisStreamSubscriber`][proxyflow.shims.redis.stream_subscriber.RedisStreamSubscriber]:
    consumer groups, acknowledgements, redelivery after ``visibility_timeout``,
    dead letters after ``max_deliveries``. Open it with ``await
    subscriber.open()`` or ``async with`` (the first read opens it too): the
    groups exist once it is open. ``close()`` from another task ends a wait
    within ``poll_interval``; a task cancelled while it waits loses nothing
    (what Redis had handed out stays pending and is reclaimed after the
    visibility timeout).

    Example:
        ```python
        async with AsyncRedisStreamSubscriber(url, ["jobs"], group="workers") as subscriber:
            async for message in subscriber:  # acknowledged as it is returned
                handle(message)
        ```
    """

    _label = "AsyncRedisStreamSubscriber"

    def __init__(
        self,
        url: str,
        topics: str | Sequence[str],
        *,
        group: str,
        consumer: str | None = None,
        prefix: str = DEFAULT_STREAM_PREFIX,
        visibility_timeout: float = 30.0,
        max_deliveries: int | None = 5,
        dead_letter: str | None = DEFAULT_DEAD_LETTER_TOPIC,
        batch: int = 16,
        timeout: float | None = None,
        deliver_policy: DeliverPolicy = "all",
        confirm_acks: bool = True,
        claim_interval: float | None = None,
        socket_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        poll_interval: float = 0.5,
    ) -> None:
        check_timeout(timeout)
        if not poll_interval > 0:
            raise ValueError(f"poll_interval must be > 0, got {poll_interval!r}")
        if socket_timeout is not None and socket_timeout <= poll_interval:
            raise ValueError(
                f"socket_timeout ({socket_timeout}s) must exceed poll_interval ({poll_interval}s)"
            )
        names = normalise_topics(topics, allow_empty=True)
        if not names:
            raise ValueError("a subscriber needs at least one topic")
        self._url = url
        self._settings = GroupSettings(
            names,
            group,
            consumer,
            StreamKeys(prefix),
            visibility_timeout,
            max_deliveries,
            dead_letter,
            batch,
            claim_interval,
            deliver_policy,
        )
        self._confirm_acks = confirm_acks
        self._timeout = timeout
        self._poll_interval = poll_interval
        self._timeouts = (socket_timeout, connect_timeout)
        self._client: redis.asyncio.Redis | None = None
        self._group: AsyncGroupReader | None = None
        self._closed = False
        self._closing: asyncio.Future[None] | None = None
        self._readers: Readers[AsyncRedisStreamDelivery] = Readers(
            poll_interval, lambda: self._closed
        )

    # -- properties ---------------------------------------------------------------------

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics read."""
        return self._settings.topics

    @property
    def url(self) -> str:
        """The server URL, password redacted."""
        return redact_url(self._url)

    @property
    def group(self) -> str:
        """The consumer group."""
        return self._settings.group

    @property
    def consumer(self) -> str:
        """This subscriber's consumer name in the group."""
        return self._settings.consumer_name

    @property
    def lost(self) -> int:
        """Pending entries a reclaim found deleted (by a length cap): lost for good."""
        return 0 if self._group is None else self._group.lost

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._closed

    def _describe(self) -> str:
        return f"{self._label} of {list(self.topics)} in group {self.group!r}"

    # -- open ---------------------------------------------------------------------------

    async def open(self) -> AsyncRedisStreamSubscriber:
        """Connect, check the server (Redis 6.2 or later) and create missing groups.

        Returns ``self``. Idempotent.

        Raises:
            SubscriberClosedError: if the subscriber was closed.
            BrokerConnectionError: if the server does not answer.
            StreamsUnsupportedError: if the server is older than Redis 6.2.
            BrokerProtocolError: if Redis refuses to create a group
                (`BrokerAuthenticationError` for an ACL denial).
        """
        if self._closed:
            raise SubscriberClosedError(f"the {self._describe()} is closed")
        if self._client is not None:
            return self
        socket_timeout, connect_timeout = self._timeouts
        client = await open_async_client(
            self._url, socket_timeout=socket_timeout, connect_timeout=connect_timeout
        )
        try:
            with translate_errors(self._url, "reading the server version"):
                try:
                    info: dict[str, Any] | None = await client.info("server")
                except redis.ResponseError:
                    info = None
            check_version(info, CLAIM_VERSION, self._label, self._url)
            group = AsyncGroupReader(
                self._url,
                client,
                self._settings,
                confirm_acks=self._confirm_acks,
                describe=self._describe(),
            )
            await group.create_groups(self._settings.start_id)
        except BaseException:
            await client.aclose()
            raise
        self._client, self._group = client, group
        return self

    async def _connected(self) -> AsyncGroupReader:
        if self._group is None:
            await self.open()
        assert self._group is not None
        return self._group

    # -- reading ------------------------------------------------------------------------

    async def next_delivery(
        self, timeout: float | Configured | None = CONFIGURED
    ) -> AsyncRedisStreamDelivery:
        """Return the next delivery, waiting at most ``timeout`` seconds.

        ``None`` waits until a message arrives or the subscriber is closed;
        by default, the ``timeout`` given at construction.

        Raises:
            SubscriberTimeoutError: (a ``TimeoutError``) if nothing arrived in time.
            SubscriberClosedError: (an ``EOFError``) if the subscriber is or gets closed.
            BrokerConnectionError: if Redis cannot be reached (the next call tries again).
        """
        if timeout is CONFIGURED:
            timeout = self._timeout
        check_timeout(timeout)
        if self._closed:
            raise SubscriberClosedError(f"the {self._describe()} is closed")
        group = await self._connected()
        delivery = await self._readers.wait(group.take, timeout)
        if self._closed:
            raise SubscriberClosedError(f"the {self._describe()} is closed")
        if delivery is None:
            raise SubscriberTimeoutError(f"no message within {timeout}s for the {self._describe()}")
        return delivery

    async def next_message(self, timeout: float | Configured | None = CONFIGURED) -> Message:
        """Return the next message, acknowledged on receipt (see `next_delivery`)."""
        delivery = await self.next_delivery(timeout)
        await delivery.ack()
        return delivery.message

    def __aiter__(self) -> AsyncIterator[Message]:
        return self

    async def __anext__(self) -> Message:
        try:
            return await self.next_message(self._timeout)
        except EOFError:
            raise StopAsyncIteration from None

    # -- roster and close ---------------------------------------------------------------

    async def roster(self, topic: str) -> Roster:
        """Return the producers that joined and left ``topic``."""
        if self._closed:
            raise SubscriberClosedError(f"the {self._describe()} is closed")
        return await (await self._connected()).roster(topic)

    async def backlog(self, topic: str) -> GroupBacklog:
        """Return what the group has left of ``topic`` (``AsyncDrainableSubscriber``).

        See ``RedisStreamSubscriber.backlog``.
        """
        if self._closed:
            raise SubscriberClosedError(f"the {self._describe()} is closed")
        if topic not in self.topics:
            raise ValueError(f"the {self._describe()} does not read {topic!r}")
        return await (await self._connected()).backlog(topic)

    async def close(self) -> None:
        """Give back unsettled deliveries, leave the group and close; idempotent.

        See ``RedisStreamSubscriber.close``. A reader waiting in another task
        raises `SubscriberClosedError` within ``poll_interval``; this call
        returns once it has.
        """
        if self._closing is not None:
            await asyncio.shield(self._closing)
            return
        self._closed = True
        self._closing = asyncio.get_running_loop().create_future()
        try:
            late = await self._readers.leave()
            if self._group is not None:
                await self._group.give_back(late)
            self._client = self._group = None
        finally:
            self._closing.set_result(None)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (
            f"{self._label}({self.url!r}, topics={list(self.topics)}, group={self.group!r}, "
            f"consumer={self.consumer!r}, {state})"
        )
