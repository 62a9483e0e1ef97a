"""``AsyncRedisStreamPublisher``: the asyncio form of ``RedisStreamPublisher``."""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio

from proxyflow.api import AsyncOpenable, Message, as_message, redact_url
from proxyflow.shims.redis._streams_server import TRIM_REPORT_VERSION, check_version
from proxyflow.shims.redis.connection import open_async_client, translate_errors
from proxyflow.shims.redis.exceptions import (
    PublisherClosedError,
    PublishRejectedError,
    StreamTrimmedError,
)
from proxyflow.shims.redis.roster import JOINED, LEFT, check_producer_id, roster_key
from proxyflow.shims.redis.stream_keys import DEFAULT_STREAM_PREFIX, MESSAGE_FIELD, StreamKeys
from proxyflow.shims.redis.stream_publisher import log
from proxyflow.shims.redis.stream_trim import (
    ADD_CAPPED,
    TrimReport,
    describe_reports,
    parse_capped_reply,
)

__all__ = ["AsyncRedisStreamPublisher"]


class AsyncRedisStreamPublisher(AsyncOpenable):
    """Appends each message to the Redis stream of its topic, on asyncio.

    Satisfies ``proxyflow.api.AsyncPublisher``. The same streams, entries,
    length cap and reports as
    [`RedisStreamPublisher`][proxyflow.shims.redis.stream_publisher.RedisStreamPublisher];
    ``await send_message(...)`` returns once Redis has stored the entry (each
    send is confirmed; concurrent sends from several tasks run on several
    connections, so only one task's sends keep their order). Open it with
    ``await publisher.open()`` or ``async with``; the first send opens it too.

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://`` URL.
        prefix: Prefix of the stream keys.
        maxlen: Keep each stream near this many entries (``None``: no cap; see
            [`stream_trim`][proxyflow.shims.redis.stream_trim]).
        socket_timeout: Seconds a read or write may take.
        connect_timeout: Seconds connecting may take.

    Example:
        ```python
        async with AsyncRedisStreamPublisher("redis://localhost:6379") as publisher:
            await publisher.send_message("jobs", b"job-1")  # stored when it returns
        ```
    """

    _label = "AsyncRedisStreamPublisher"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_STREAM_PREFIX,
        maxlen: int | None = None,
        socket_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
    ) -> None:
        if maxlen is not None and (not isinstance(maxlen, int) or maxlen < 1):
            raise ValueError(f"maxlen must be an int >= 1 or None, got {maxlen!r}")
        self._url = url
        self._keys = StreamKeys(prefix)
        self._maxlen = maxlen
        self._timeouts = (socket_timeout, connect_timeout)
        self._client: redis.asyncio.Redis | None = None
        self._closed = False
        self._reports: list[TrimReport] = []
        self._unraised: list[TrimReport] = []

    @property
    def url(self) -> str:
        """The server URL, password redacted."""
        return redact_url(self._url)

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._closed

    @property
    def trim_reports(self) -> tuple[TrimReport, ...]:
        """Every loss the length cap caused so far, oldest first."""
        return tuple(self._reports)

    async def open(self) -> AsyncRedisStreamPublisher:
        """Connect (and, with a cap, check the server is Redis 7.0 or later); returns ``self``.

        Raises:
            PublisherClosedError: if the publisher was closed.
            BrokerConnectionError: if the server does not answer.
            StreamsUnsupportedError: if ``maxlen`` is given and the server is older than 7.0.
        """
        if self._closed:
            raise PublisherClosedError(f"open() on a closed {self._label}")
        if self._client is None:
            socket_timeout, connect_timeout = self._timeouts
            client = await open_async_client(
                self._url, socket_timeout=socket_timeout, connect_timeout=connect_timeout
            )
            try:
                if self._maxlen is not None:
                    with translate_errors(self._url, "reading the server version"):
                        try:
                            info: dict[str, Any] | None = await client.info("server")
                        except redis.ResponseError:  # INFO refused by an ACL: no verdict
                            info = None
                    check_version(info, TRIM_REPORT_VERSION, "a stream length cap", self._url)
            except BaseException:
                await client.aclose()
                raise
            self._client = client
        return self

    async def _connected(self) -> redis.asyncio.Redis:
        if self._closed:
            raise PublisherClosedError(f"send_message() on a closed {self._label}")
        if self._client is None:
            await self.open()
        assert self._client is not None
        return self._client

    async def send_message(self, topic: str, message: Message) -> None:
        """Append ``message`` to the stream of ``topic``; returns once Redis stored it.

        Raises:
            PublisherClosedError: if the publisher was closed.
            PublishRejectedError: if Redis rejected the message (`BrokerFullError`
                at ``maxmemory``, `BrokerAuthenticationError` for an ACL denial).
            BrokerConnectionError: if Redis cannot be reached (the message may
                or may not be stored).
            TypeError: if ``topic`` is not a string or ``message`` not bytes-like.
        """
        if not isinstance(topic, str):
            raise TypeError(f"topic must be a string, not {type(topic).__name__}")
        payload = as_message(message)
        client = await self._connected()
        key = self._keys.key(topic)
        with translate_errors(self._url, f"adding to {topic!r}", PublishRejectedError):
            if self._maxlen is None:
                await client.xadd(key, {MESSAGE_FIELD: payload})
                return
            reply = await client.eval(ADD_CAPPED, 1, key, str(self._maxlen), MESSAGE_FIELD, payload)
        _, reports = parse_capped_reply(reply, self._keys.prefix)
        if reports:
            log.warning(
                "%s at %s: the length cap (maxlen=%d) removed entries: %s",
                self._label, self.url, self._maxlen, describe_reports(reports),
            )  # fmt: skip
            self._reports += reports
            self._unraised += reports

    async def flush(self) -> None:
        """Report losses of the length cap not reported yet (every send is confirmed already).

        Raises:
            StreamTrimmedError: if the cap removed entries a group had not finished.
        """
        reports, self._unraised = tuple(self._unraised), []
        if reports:
            raise StreamTrimmedError(
                f"Redis at {self.url}: the length cap (maxlen={self._maxlen}) removed entries "
                f"consumers had not finished: {describe_reports(reports)}",
                redact_url(self._url),
                reports,
            )

    async def join(self, topic: str, producer_id: bytes) -> None:
        """Record that ``producer_id`` publishes on ``topic`` (idempotent)."""
        await self._record(topic, JOINED, producer_id, "joining")

    async def leave(self, topic: str, producer_id: bytes) -> None:
        """Record that ``producer_id`` sent its last message on ``topic``.

        Call it after the producer's sends returned (each is confirmed).
        """
        await self._record(topic, LEFT, producer_id, "leaving")

    async def clear_roster(self, topic: str) -> None:
        """Forget every producer of ``topic``: do it before reusing a finished topic's name."""
        client = await self._connected()
        with translate_errors(self._url, f"clearing the roster of {topic!r}"):
            await client.delete(self._roster_key(topic))

    def _roster_key(self, topic: str) -> str:
        if not isinstance(topic, str):
            raise TypeError(f"topic must be a string, not {type(topic).__name__}")
        return roster_key(self._keys.key(topic))

    async def _record(self, topic: str, kind: bytes, producer_id: bytes, doing: str) -> None:
        field = kind + check_producer_id(producer_id)
        key = self._roster_key(topic)
        client = await self._connected()
        with translate_errors(self._url, f"{doing} the roster of {topic!r}"):
            await client.hset(key, field, b"1")

    async def close(self) -> None:
        """Close the connections; idempotent. Later sends raise `PublisherClosedError`.

        Raises:
            StreamTrimmedError: if the length cap removed entries not reported yet.
        """
        if self._closed:
            return
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
        await self.flush()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"{self._label}({self.url!r}, prefix={self._keys.prefix!r}, {state})"
