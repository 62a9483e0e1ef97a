"""What the asyncio pub/sub and list-queue publishers and subscribers have in common.

The public classes in [`async_pubsub`][proxyflow.shims.redis.async_pubsub] and
[`async_queue`][proxyflow.shims.redis.async_queue] keep only their Redis
commands. Here live opening a ``redis.asyncio`` client on first use (or on
entering ``async with``, from ``proxyflow.api.AsyncOpenable``), the
checks of a send, closing, and the subscribers' bounded wait: a read waits
at most ``poll_interval`` at a time so that ``close()`` from another task
ends it promptly, and ``close()`` returns once every reader has left.
Errors are those of the synchronous shims, made by the same
[`broker_error`][proxyflow.shims.redis.connection.broker_error].
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar, TypeVar

import redis.asyncio

from proxyflow.api import (
    CONFIGURED,
    AsyncOpenable,
    Configured,
    Message,
    as_message,
    check_timeout,
    normalise_topics,
    redact_url,
    wait_time,
)
from proxyflow.shims.redis._async_readers import Readers
from proxyflow.shims.redis.connection import open_async_client
from proxyflow.shims.redis.exceptions import (
    PublisherClosedError,
    SubscriberClosedError,
    SubscriberTimeoutError,
)

__all__: list[str] = []

_P = TypeVar("_P", bound="AsyncRedisPublisherBase")
_S = TypeVar("_S", bound="AsyncRedisSubscriberBase")


class AsyncRedisPublisherBase(AsyncOpenable):
    """An asyncio publisher on a ``redis.asyncio`` client opened by `open` or the first send.

    Every send awaits Redis's reply, so a refusal is raised by the send it
    concerns. Sends from several tasks at once use several pooled
    connections: only one task's sends keep their order. A lost connection
    raises [`BrokerConnectionError`][proxyflow.shims.redis.BrokerConnectionError]
    from the send that meets it (that message may or may not have reached
    Redis); the next call connects again.
    """

    _label: ClassVar[str]

    def __init__(
        self, url: str, *, socket_timeout: float | None, connect_timeout: float | None
    ) -> None:
        self._url = url
        self._timeouts = (socket_timeout, connect_timeout)
        self._client: redis.asyncio.Redis | None = None
        self._closed = False

    @property
    def url(self) -> str:
        """The server URL, password redacted."""
        return redact_url(self._url)

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._closed

    async def open(self: _P) -> _P:
        """Connect and check the server answers; returns ``self``. Idempotent.

        Raises:
            PublisherClosedError: if the publisher was closed.
            InvalidBrokerURLError: if the URL is not a Redis URL.
            BrokerConnectionError: if the server does not answer.
            BrokerAuthenticationError: if the password is missing or refused.
            BrokerProtocolError: if the server is not Redis or lacks the database.
        """
        await self._connected("open()")
        return self

    async def _connected(self, doing: str) -> redis.asyncio.Redis:
        if self._closed:
            raise PublisherClosedError(f"{doing} on a closed {self._label}")
        if self._client is None:
            socket_timeout, connect_timeout = self._timeouts
            client = await open_async_client(
                self._url, socket_timeout=socket_timeout, connect_timeout=connect_timeout
            )
            if self._client is not None or self._closed:  # another task opened or closed meanwhile
                await client.aclose()
                return await self._connected(doing)
            self._client = client
        return self._client

    async def _ready(self, topic: str, message: Message) -> tuple[redis.asyncio.Redis, Any]:
        """Check a send and return the client and ``message`` ready to write, uncopied."""
        if not isinstance(topic, str):
            raise TypeError(f"topic must be a string, not {type(topic).__name__}")
        payload = as_message(message)
        return await self._connected("send_message()"), payload

    async def close(self) -> None:
        """Release the connections; idempotent. Later sends raise `PublisherClosedError`.

        Every send has been confirmed when it returned, so nothing is pending.
        Messages already queued in Redis lists stay there for their consumers.
        """
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"{self._label}({self.url!r}, {state})"


class AsyncRedisSubscriberBase(AsyncOpenable):
    """An asyncio subscriber reading in waits of at most ``poll_interval`` seconds.

    Subclasses implement `_open` (connect; called by `open` or the first
    read), `_take` (wait up to ``wait`` seconds for one message, raising the
    shim's errors) and `_release` (after the last reader left, with what a
    read took after the close).
    """

    _label: ClassVar[str]

    def __init__(
        self,
        url: str,
        topics: str | Sequence[str],
        *,
        timeout: float | None,
        poll_interval: float,
    ) -> None:
        check_timeout(timeout)
        if not poll_interval > 0:
            raise ValueError(f"poll_interval must be > 0, got {poll_interval!r}")
        self._topics = normalise_topics(topics, allow_empty=True)
        if not self._topics:
            raise ValueError("a subscriber needs at least one topic")
        self._url = url
        self._timeout = timeout
        self._poll_interval = poll_interval
        self._opened = False
        self._closed = False
        self._readers: Readers[bytes] = Readers(poll_interval, lambda: self._closed)
        self._closing: asyncio.Future[None] | None = None

    @property
    def url(self) -> str:
        """The server URL, password redacted."""
        return redact_url(self._url)

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics read."""
        return self._topics

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._closed

    def _describe(self) -> str:
        return f"{self._label} of {list(self._topics)}"

    async def _open(self) -> None:
        raise NotImplementedError

    async def _take(self, wait: float) -> bytes | None:
        raise NotImplementedError

    async def _release(self, late: list[bytes]) -> None:
        raise NotImplementedError

    async def open(self: _S) -> _S:
        """Connect (and subscribe); returns ``self``. Idempotent.

        Raises:
            SubscriberClosedError: if the subscriber was closed.
            BrokerConnectionError: if the server does not answer.
            BrokerAuthenticationError: if the password is missing or refused.
            BrokerProtocolError: if the server is not Redis or lacks the database.
        """
        if self._closed:
            raise SubscriberClosedError(f"the {self._describe()} is closed")
        if not self._opened:
            await self._open()
            self._opened = True
        return self

    async def next_message(self, timeout: float | Configured | None = CONFIGURED) -> bytes:
        """Return the next message, waiting at most ``timeout`` seconds.

        Args:
            timeout: Seconds to wait; ``None`` waits until a message arrives
                or the subscriber is closed; ``0`` takes only what is there.
                By default, the ``timeout`` given at construction.

        Raises:
            SubscriberTimeoutError: (a ``TimeoutError``) if nothing arrived in time.
            SubscriberClosedError: (an ``EOFError``) if the subscriber is or gets closed.
            BrokerConnectionError: if the connection is lost (see the class).
            ValueError: if ``timeout`` is negative.
        """
        timeout = wait_time(timeout, self._timeout)
        if self._closed:
            raise SubscriberClosedError(f"the {self._describe()} is closed")
        await self.open()
        message = await self._readers.wait(self._take, timeout)
        if message is not None:
            return message
        if self._closed:
            raise SubscriberClosedError(f"the {self._describe()} is closed")
        raise SubscriberTimeoutError(f"no message within {timeout}s for the {self._describe()}")

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.next_message(self._timeout)
        except EOFError:
            raise StopAsyncIteration from None

    async def close(self) -> None:
        """Stop receiving and release the connection; idempotent.

        A task waiting in ``next_message`` raises `SubscriberClosedError`
        within ``poll_interval``; this call returns once it has.
        """
        if self._closing is not None:
            await asyncio.shield(self._closing)
            return
        self._closed = True
        self._closing = asyncio.get_running_loop().create_future()
        try:
            late = await self._readers.leave()
            if self._opened:
                await self._release(late)
        finally:
            self._closing.set_result(None)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"{self._label}({self.url!r}, topics={list(self._topics)}, {state})"
