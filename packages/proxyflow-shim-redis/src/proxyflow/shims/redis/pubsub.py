"""Redis pub/sub: fan-out delivery, nothing kept for absent subscribers."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from redis.client import PubSub

from proxyflow.shims.redis.connection import (
    REDIS_ERRORS,
    open_client,
    redact_url,
    translate_errors,
)
from proxyflow.shims.redis.exceptions import (
    BrokerConnectionError,
    PublisherClosedError,
    SubscriberClosedError,
    SubscriberTimeoutError,
)
from proxyflow.shims.redis.payload import as_payload
from proxyflow.shims.redis.topics import normalise_topics

__all__ = ["RedisPublisher", "RedisSubscriber"]


class RedisPublisher:
    """Publishes messages with Redis ``PUBLISH``; each topic is a channel.

    Behaviour:

    * **Ordering**: messages from one publisher on one topic arrive in order
      (one connection at a time, and Redis delivers in order).
    * **Blocking**: ``send_message`` returns once Redis has accepted the
      message; it waits at most ``socket_timeout`` for the server.
    * **Multi-producer**: any number of publishers may publish on a channel;
      one publisher may be shared by threads (redis-py pools its connections).
    * **Multi-consumer**: fan-out: every subscriber of the channel gets every message.
    * **Loss**: a message published while no subscriber is connected is
      dropped by Redis; so are messages a subscriber misses while disconnected,
      or when it is too slow and Redis cuts it off at its
      ``client-output-buffer-limit pubsub``. Use
      :class:`~proxyflow.shims.redis.RedisQueuePublisher` when messages must wait.
    * **close()**: closes the connection pool; later sends raise
      :class:`~proxyflow.shims.redis.PublisherClosedError`. Idempotent.

    The connection speaks RESP2 (see :mod:`proxyflow.shims.redis.connection`).
    Messages go out without an extra copy where redis-py allows (``bytes`` and
    ``memoryview`` above 6000 bytes are written as they are).

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://...`` or ``unix://...``.
        socket_timeout: Seconds a read or write may take.
        connect_timeout: Seconds connecting may take.

    Raises:
        InvalidBrokerURLError: if the URL is not a Redis URL.
        BrokerConnectionError: if the server does not answer (the URL is named,
            without its password).

    Example:
        ```python
        from proxyflow.shims.redis import RedisPublisher, RedisSubscriber

        subscriber = RedisSubscriber("redis://localhost:6379", ["events"])
        publisher = RedisPublisher("redis://localhost:6379")
        publisher.send_message("events", b"hello")
        assert subscriber.next_message(timeout=1.0) == b"hello"
        ```
    """

    def __init__(
        self,
        url: str,
        *,
        socket_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
    ) -> None:
        self._url = url
        self._client = open_client(
            url, socket_timeout=socket_timeout, connect_timeout=connect_timeout
        )
        self._closed = False

    @property
    def url(self) -> str:
        """The server URL, password redacted."""
        return redact_url(self._url)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def send_message(self, topic: str, message: bytes | bytearray | memoryview) -> None:
        """Publish ``message`` on the channel ``topic``.

        Args:
            topic: The channel name.
            message: The message bytes.

        Raises:
            PublisherClosedError: if the publisher was closed.
            BrokerConnectionError: if Redis cannot be reached.
            TypeError: if ``topic`` is not a string or ``message`` not bytes-like.
        """
        if self._closed:
            raise PublisherClosedError("send_message() on a closed RedisPublisher")
        if not isinstance(topic, str):
            raise TypeError(f"topic must be a string, not {type(topic).__name__}")
        payload = as_payload(message)
        with translate_errors(self._url, f"publishing on {topic!r}"):
            self._client.publish(topic, payload)

    def close(self) -> None:
        """Close the connection pool; idempotent."""
        if not self._closed:
            self._closed = True
            self._client.close()

    def __enter__(self) -> RedisPublisher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"RedisPublisher({self.url!r}, {state})"


class RedisSubscriber:
    """Receives the messages published on one or more Redis channels.

    The constructor returns only once Redis has confirmed every subscription,
    so a message published after it returns is received.

    Behaviour:

    * **Ordering**: messages from one publisher on one channel arrive in order.
    * **Blocking**: :meth:`next_message` waits up to its ``timeout``
      (``None``: until a message arrives or the subscriber is closed).
      Iteration waits up to the ``timeout`` given here.
    * **Multi-producer**: any number of publishers may publish on the channels.
    * **Multi-consumer**: fan-out: every subscriber gets every message.
    * **Loss**: messages published before the subscription, or while the
      connection is down, are not delivered. The subscriber does not reconnect
      by itself: a lost connection makes :meth:`next_message` raise
      :class:`~proxyflow.shims.redis.BrokerConnectionError` (every time after).
    * **close()**: unsubscribes and closes the connection; then
      :meth:`next_message` raises :class:`EOFError` and iteration stops.
      Calling it from another thread while one reads is allowed: the reader
      finishes the close within ``poll_interval``. Idempotent.

    Read a subscriber from one thread at a time.

    Args:
        url: The Redis URL (see :class:`RedisPublisher`).
        topics: One channel name or a sequence of them.
        timeout: Seconds iteration waits before raising :class:`TimeoutError`
            (``None``: forever).
        socket_timeout: Seconds a read of a started message or a write may take.
        connect_timeout: Seconds connecting and subscribing may take.
        poll_interval: Longest single wait on the socket, so that a
            :meth:`close` from another thread is noticed.

    Raises:
        InvalidBrokerURLError: if the URL is not a Redis URL.
        BrokerConnectionError: if the server cannot be reached or does not
            confirm the subscriptions within ``connect_timeout``.
        ValueError: if no topic is given or a timeout is negative.
    """

    def __init__(
        self,
        url: str,
        topics: str | Sequence[str],
        *,
        timeout: float | None = None,
        socket_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        poll_interval: float = 0.5,
    ) -> None:
        self._topics = normalise_topics(topics)
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0 or None, got {timeout!r}")
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be > 0, got {poll_interval!r}")
        self._url = url
        self._timeout = timeout
        self._poll_interval = poll_interval
        self._lock = threading.Lock()
        self._closed = False
        self._reading = False
        self._broken: BrokerConnectionError | None = None
        self._client = open_client(
            url, socket_timeout=socket_timeout, connect_timeout=connect_timeout
        )
        self._pubsub: PubSub = self._client.pubsub()  # type: ignore[no-untyped-call]
        try:
            self._subscribe(connect_timeout)
        except BaseException:
            self._release()
            raise

    def _subscribe(self, connect_timeout: float | None) -> None:
        pending = set(self._topics)
        limit = 5.0 if connect_timeout is None else connect_timeout
        deadline = time.monotonic() + limit
        with translate_errors(self._url, f"subscribing to {list(self._topics)}"):
            self._pubsub.subscribe(*self._topics)
            while pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    safe = redact_url(self._url)
                    raise BrokerConnectionError(
                        f"Redis at {safe} did not confirm subscriptions to "
                        f"{sorted(pending)} within {limit}s",
                        safe,
                    )
                reply = self._pubsub.get_message(timeout=remaining)
                if reply is not None and reply["type"] == "subscribe":
                    pending.discard(_text(reply["channel"]))

    @property
    def topics(self) -> tuple[str, ...]:
        """The channels subscribed to."""
        return self._topics

    @property
    def url(self) -> str:
        """The server URL, password redacted."""
        return redact_url(self._url)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def next_message(self, timeout: float | None = None) -> bytes:
        """Return the next message published on one of the channels.

        Args:
            timeout: Seconds to wait; ``None`` waits until a message arrives or
                the subscriber is closed; ``0`` only takes what already arrived.

        Raises:
            SubscriberTimeoutError: if nothing arrived in time (a ``TimeoutError``).
            SubscriberClosedError: if the subscriber is closed (an ``EOFError``).
            BrokerConnectionError: if the connection is lost (a ``ConnectionError``).
        """
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0 or None, got {timeout!r}")
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            if self._closed:
                raise SubscriberClosedError("the RedisSubscriber is closed")
            if self._broken is not None:
                raise self._broken
            self._reading = True
        reply: dict[str, Any] | None = None
        failure: BaseException | None = None
        try:
            while True:
                wait = self._poll_interval
                if deadline is not None:
                    wait = min(wait, max(0.0, deadline - time.monotonic()))
                reply = self._pubsub.get_message(ignore_subscribe_messages=True, timeout=wait)
                if reply is not None and reply["type"] in ("message", "pmessage"):
                    break
                reply = None
                if self._closed or (deadline is not None and time.monotonic() >= deadline):
                    break
        except REDIS_ERRORS as exc:
            failure = exc
        finally:
            with self._lock:
                self._reading = False
                closed = self._closed
            if closed:
                self._release()
        if closed:
            raise SubscriberClosedError("the RedisSubscriber is closed")
        if failure is not None:
            safe = redact_url(self._url)
            self._broken = BrokerConnectionError(
                f"Redis at {safe}: connection of the subscriber to {list(self._topics)} "
                f"lost: {failure}",
                safe,
            )
            raise self._broken from failure
        if reply is None:
            raise SubscriberTimeoutError(f"no message within {timeout}s on {list(self._topics)}")
        data: bytes = reply["data"]
        return data

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            return self.next_message(self._timeout)
        except EOFError:
            raise StopIteration from None

    def close(self) -> None:
        """Unsubscribe and close the connection; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._reading:
                return  # the reader releases the connection when it wakes up
        self._release()

    def _release(self) -> None:
        with contextlib.suppress(*REDIS_ERRORS):
            self._pubsub.close()
        self._client.close()

    def __enter__(self) -> RedisSubscriber:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"RedisSubscriber({self.url!r}, topics={list(self._topics)}, {state})"


def _text(channel: bytes | str) -> str:
    return channel.decode() if isinstance(channel, bytes) else channel
