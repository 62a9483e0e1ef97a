"""What the pub/sub and list-queue publishers and subscribers have in common.

The public classes in [`proxyflow.shims.redis.pubsub`][proxyflow.shims.redis.pubsub] and
[`proxyflow.shims.redis.queue`][proxyflow.shims.redis.queue] keep only what
differs: the Redis commands they issue. Here live the connection bookkeeping,
the ``url`` property, the publishers' background confirmation and
reconnection, and the subscribers' error translation. The receive loop with
its deadline and close handshake, iteration and the context manager come from
[`proxyflow.api`][proxyflow.api] (`PollingSubscriber`, `Closeable`).
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from proxyflow.api import Closeable, Message, PollingSubscriber, as_message, redact_url
from proxyflow.shims.redis.connection import (
    CONNECTION_ERRORS,
    REDIS_ERRORS,
    broker_error,
    dedicated_connection,
    open_client,
)
from proxyflow.shims.redis.exceptions import (
    BrokerConnectionError,
    PublisherClosedError,
    PublishRejectedError,
    RedisShimError,
    SubscriberClosedError,
    SubscriberTimeoutError,
    _ServerError,
)

__all__: list[str] = []


class _RedisEndpoint:
    """What publishers and subscribers share: the server URL, shown without its password."""

    _label: ClassVar[str]
    """The public class name, for messages and ``repr``."""
    _url: str

    @property
    def url(self) -> str:
        """The server URL, password redacted."""
        return redact_url(self._url)


class _RedisPublisherBase(_RedisEndpoint, Closeable):
    """A publisher writing commands on one dedicated connection, confirmed in the background.

    ``send_message`` writes its command and returns without waiting for the
    reply: replies are read when they are already there (a non-blocking check
    on each send), and all of them by
    [`flush`][proxyflow.shims.redis._base._RedisPublisherBase.flush] and
    [`close`][proxyflow.shims.redis._base._RedisPublisherBase.close]. At most
    ``max_unconfirmed`` sends wait for their reply; beyond that a send reads
    replies until half of them are confirmed. Redis executes a connection's
    commands in order, so ordering is unchanged; an error reply surfaces as
    the shim's error for it from a later call, naming the topic of the
    refused message. This saves one network round trip per message (about
    60 us on loopback).

    A lost connection is reported by the call that meets it
    ([`BrokerConnectionError`][proxyflow.shims.redis.BrokerConnectionError],
    counting the sends that were still unconfirmed and may be lost); the next
    call reconnects once (``reconnects`` counts it) and raises again if the
    server is still away.
    """

    def __init__(
        self,
        url: str,
        *,
        socket_timeout: float | None,
        connect_timeout: float | None,
        max_unconfirmed: int,
    ) -> None:
        if max_unconfirmed < 0:
            raise ValueError(f"max_unconfirmed must be >= 0, not {max_unconfirmed}")
        self._url = url
        self._closed = False
        self._max_unconfirmed = max_unconfirmed
        self._pending: deque[str] = deque()  # the topic of each unconfirmed send, in order
        self._broken = False
        self._reconnects = 0
        self._lock = threading.Lock()
        self._client = open_client(
            url, socket_timeout=socket_timeout, connect_timeout=connect_timeout
        )
        try:
            self._connection: Any = dedicated_connection(self._client, url)
        except BaseException:
            self._client.close()
            raise

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._closed

    @property
    def reconnects(self) -> int:
        """How many times the publisher reconnected after losing its connection."""
        return self._reconnects

    def _payload(self, topic: str, message: Message) -> bytes | memoryview:
        """Check a ``send_message`` call and return ``message`` ready to write, uncopied.

        redis-py writes ``bytes`` and memoryviews above 6000 bytes as separate
        buffers instead of joining them into its command buffer.
        """
        if self._closed:
            raise PublisherClosedError(f"send_message() on a closed {self._label}")
        if not isinstance(topic, str):
            raise TypeError(f"topic must be a string, not {type(topic).__name__}")
        return as_message(message)

    def _send(self, topic: str, doing: str, *command: str | bytes | memoryview) -> None:
        """Write ``command``; read the replies that are due (see the class docstring)."""
        with self._lock, self._guard(doing):
            connection = self._connection
            if self._broken:
                self._reconnect()
            connection.send_packed_command(connection.pack_command(*command), check_health=False)
            self._pending.append(topic)
            if len(self._pending) > self._max_unconfirmed:
                self._confirm(self._max_unconfirmed // 2)
            else:
                while self._pending and connection.can_read(timeout=0):
                    self._confirm(len(self._pending) - 1)

    def _call(self, doing: str, *command: str | bytes) -> Any:
        """Confirm every send, then run ``command`` and return its reply (takes the lock)."""
        with self._lock, self._guard(doing):
            if self._broken:
                self._reconnect()
            self._confirm(0)
            connection = self._connection
            connection.send_packed_command(connection.pack_command(*command), check_health=False)
            return connection.read_response()

    def _reconnect(self) -> None:
        """Open the connection again after a loss (lock held, inside `_guard`)."""
        self._connection.disconnect()
        self._connection.connect()
        self._broken = False
        self._reconnects += 1

    @contextlib.contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        """Translate redis-py errors; on a lost connection, report the unconfirmed sends."""
        try:
            yield
        except RedisShimError:
            raise
        except REDIS_ERRORS as exc:
            error = broker_error(exc, self._url, doing, PublishRejectedError)
            if isinstance(exc, CONNECTION_ERRORS):
                self._broken = True
                lost = len(self._pending)
                if lost and isinstance(error, BrokerConnectionError):
                    topics = sorted(set(self._pending))
                    error = BrokerConnectionError(
                        f"{error}; {lost} message(s) on {topics} were sent without "
                        "confirmation and may not have reached Redis",
                        error.url,
                    )
                self._pending.clear()
            raise error from exc

    def _confirm(self, down_to: int) -> None:
        """Read replies until at most ``down_to`` sends are unconfirmed (lock held)."""
        pending = self._pending
        while len(pending) > down_to:
            topic = pending.popleft()
            try:
                reply = self._connection.read_response()
            except REDIS_ERRORS as exc:
                if isinstance(exc, CONNECTION_ERRORS):
                    pending.appendleft(topic)  # counted as unconfirmed by _guard
                    raise
                error = broker_error(
                    exc, self._url, f"sending a message on {topic!r}", PublishRejectedError
                )
                more = self._confirm_after_refusal()
                if more and isinstance(error, _ServerError):
                    error = type(error)(
                        f"{error} ({more} later message(s) were refused too)", error.url
                    )
                raise error from exc
            self._confirmed(topic, reply)

    def _confirm_after_refusal(self) -> int:
        """Read every reply still due after a refusal; return how many more were refusals.

        One error then reports them all, and none is left to surprise a later call.
        """
        refused = 0
        pending = self._pending
        while pending:
            topic = pending.popleft()
            try:
                reply = self._connection.read_response()
            except REDIS_ERRORS as exc:
                if isinstance(exc, CONNECTION_ERRORS):
                    pending.appendleft(topic)
                    raise
                refused += 1
                continue
            self._confirmed(topic, reply)
        return refused

    def _confirmed(self, topic: str, reply: Any) -> None:
        """Look at Redis's reply to a send on ``topic`` (lock held); subclasses may check it."""

    def flush(self) -> None:
        """Wait until Redis has confirmed every message sent so far.

        Raises:
            PublishRejectedError: if Redis answered a send with an error
                (`BrokerFullError`, `BrokerAuthenticationError` for refusals
                with a class of their own).
            BrokerConnectionError: if Redis cannot be reached.
        """
        if self._closed:
            return
        with self._lock, self._guard("confirming sends"):
            if not self._broken:
                self._confirm(0)

    def close(self) -> None:
        """Confirm the messages sent so far, then release the connection; idempotent.

        Messages already sent are not withdrawn: those queued in Redis lists
        stay there for their consumers.

        Raises:
            PublishRejectedError: if Redis answered a send with an error.
            BrokerConnectionError: if Redis could not be reached to confirm (not
                raised again when an earlier call already reported the lost
                connection).
        """
        if self._closed:
            return
        try:
            if not self._broken:
                self.flush()
        finally:
            self._closed = True
            self._connection.disconnect()
            self._client.connection_pool.release(self._connection)
            self._client.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"{self._label}({self.url!r}, {state})"


class _RedisSubscriberBase(_RedisEndpoint, PollingSubscriber[bytes]):
    """A subscriber reading with the bounded-wait loop of `PollingSubscriber`.

    Subclasses open ``self._client`` (and whatever else they read from) after
    calling ``__init__``, and implement `_take` and `_release`. Every redis-py
    error becomes the shim's error for it. A lost connection is passed to
    `_lost`, which by default reports it as
    [`BrokerConnectionError`][proxyflow.shims.redis.BrokerConnectionError],
    then and on every later call (no silent reconnect).
    """

    closed_error = SubscriberClosedError
    timeout_error = SubscriberTimeoutError
    allow_empty_topics = True

    _role: ClassVar[str]
    """What the subscriber is called in a lost-connection message."""

    def __init__(
        self,
        url: str,
        topics: str | Sequence[str],
        *,
        timeout: float | None,
        poll_interval: float,
    ) -> None:
        super().__init__(topics, timeout=timeout, poll_interval=poll_interval)
        if not self._topics:
            raise ValueError("a subscriber needs at least one topic")
        self._url = url
        self._broken: RedisShimError | None = None

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics read (for pub/sub, the channels subscribed to)."""
        return self._topics

    def _take(self, wait: float) -> bytes | None:
        """Wait up to ``wait`` seconds (``0``: not at all) for one message.

        redis-py's errors raised here become the shim's errors.
        """
        raise NotImplementedError

    def _poll(self, wait: float) -> bytes | None:
        if self._broken is not None:
            raise self._broken
        try:
            return self._take(wait)
        except REDIS_ERRORS as exc:
            doing = f"reading {list(self._topics)} ({self._role})"
            error = broker_error(exc, self._url, doing)
            if isinstance(error, BrokerConnectionError):
                return self._lost(error, exc)
            raise error from exc

    def _lost(self, error: BrokerConnectionError, cause: BaseException) -> bytes | None:
        """Handle a lost connection: by default report it now and on every later call."""
        self._broken = BrokerConnectionError(
            f"{error}: the connection of the {self._role} to {list(self._topics)} is lost",
            error.url,
        )
        raise self._broken from cause

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"{self._label}({self.url!r}, topics={list(self._topics)}, {state})"
