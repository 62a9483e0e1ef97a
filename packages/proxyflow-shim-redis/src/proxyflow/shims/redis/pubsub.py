"""Redis pub/sub: fan-out delivery, nothing kept for absent subscribers."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Any, overload

from redis.client import PubSub

from proxyflow.api import Message, redact_url
from proxyflow.shims.redis._base import _RedisPublisherBase, _RedisSubscriberBase
from proxyflow.shims.redis.connection import REDIS_ERRORS, open_client, translate_errors
from proxyflow.shims.redis.exceptions import BrokerConnectionError
from proxyflow.shims.redis.hostport import publisher_url, subscriber_target

__all__ = ["RedisPublisher", "RedisSubscriber"]


class RedisPublisher(_RedisPublisherBase):
    """Publishes messages with Redis ``PUBLISH``; each topic is a channel.

    Behaviour:

    * **Ordering**: messages from one publisher on one topic arrive in order
      (one connection at a time, and Redis delivers in order).
    * **Blocking**: ``send_message`` returns once the message is written to
      the connection; Redis's confirmation is read in the background (on later
      sends, [`flush`][proxyflow.shims.redis.pubsub.RedisPublisher.flush] and
      [`close`][proxyflow.shims.redis.pubsub.RedisPublisher.close]), so a
      rejected message surfaces as
      [`PublishRejectedError`][proxyflow.shims.redis.PublishRejectedError] from
      a later call. At most ``max_unconfirmed`` messages wait for confirmation.
    * **Multi-producer**: any number of publishers may publish on a channel;
      one publisher may be shared by threads (redis-py pools its connections).
    * **Multi-consumer**: fan-out: every subscriber of the channel gets every message.
    * **Loss**: a message published while no subscriber is connected is
      dropped by Redis; so are messages a subscriber misses while disconnected,
      or when it is too slow and Redis cuts it off at its
      ``client-output-buffer-limit pubsub``. Use
      [`RedisQueuePublisher`][proxyflow.shims.redis.RedisQueuePublisher] when messages must wait.
    * **close()**: confirms what was sent, then closes the connection; later sends raise
      [`PublisherClosedError`][proxyflow.shims.redis.PublisherClosedError]. Idempotent.

    The connection speaks RESP2 (see
    [`proxyflow.shims.redis.connection`][proxyflow.shims.redis.connection]). Messages go
    out without an extra copy where redis-py allows (``bytes`` and ``memoryview`` above
    6000 bytes are written as they are).

    ProxyStore's form ``RedisPublisher(hostname, port, **redis_options)`` works
    too and means ``RedisPublisher("redis://hostname:port/0")``; of the
    ``redis.Redis`` options, ``db``, ``username`` and ``password`` are
    understood (see [`hostport`][proxyflow.shims.redis.hostport]).

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://...`` or ``unix://...``.
        port: ProxyStore's form: the port of the server named by ``url`` (a host name).
        hostname: ProxyStore's form, by keyword: the host name.
        socket_timeout: Seconds a read or write may take.
        connect_timeout: Seconds connecting may take.
        max_unconfirmed: Messages that may wait for Redis's confirmation
            (``0``: confirm each send before returning, one round trip each).
        redis_options: ProxyStore's form: ``db``, ``username``, ``password``.

    Raises:
        InvalidBrokerURLError: if the URL is not a Redis URL.
        BrokerConnectionError: if the server does not answer (the URL is named,
            without its password).
        TypeError: if the arguments fit neither form (the message shows the URL form).

    Example:
        ```python
        from proxyflow.shims.redis import RedisPublisher, RedisSubscriber

        subscriber = RedisSubscriber("redis://localhost:6379", ["events"])
        publisher = RedisPublisher("redis://localhost:6379")
        publisher.send_message("events", b"hello")
        assert subscriber.next_message(timeout=1.0) == b"hello"
        ```
    """

    _label = "RedisPublisher"

    @overload
    def __init__(
        self,
        url: str,
        *,
        socket_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        max_unconfirmed: int = 1024,
    ) -> None: ...

    @overload
    def __init__(
        self,
        hostname: str,
        port: int,
        /,
        *,
        socket_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        max_unconfirmed: int = 1024,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
    ) -> None: ...

    def __init__(
        self,
        url: str | None = None,
        port: int | None = None,
        *,
        hostname: str | None = None,
        socket_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        max_unconfirmed: int = 1024,
        **redis_options: Any,
    ) -> None:
        super().__init__(
            publisher_url(self._label, url, port, hostname, redis_options),
            socket_timeout=socket_timeout,
            connect_timeout=connect_timeout,
            max_unconfirmed=max_unconfirmed,
        )

    def send_message(self, topic: str, message: Message) -> None:
        """Publish ``message`` on the channel ``topic``.

        Args:
            topic: The channel name.
            message: The message bytes.

        Raises:
            PublisherClosedError: if the publisher was closed.
            PublishRejectedError: if Redis rejected an earlier message.
            BrokerConnectionError: if Redis cannot be reached.
            TypeError: if ``topic`` is not a string or ``message`` not bytes-like.
        """
        self._send(f"publishing on {topic!r}", "PUBLISH", topic, self._payload(topic, message))


class RedisSubscriber(_RedisSubscriberBase):
    """Receives the messages published on one or more Redis channels.

    The constructor returns only once Redis has confirmed every subscription,
    so a message published after it returns is received.

    Behaviour:

    * **Ordering**: messages from one publisher on one channel arrive in order.
    * **Blocking**: [`next_message`][proxyflow.shims.redis.pubsub.RedisSubscriber.next_message]
      waits up to its ``timeout`` (``None``: until a message arrives or the
      subscriber is closed). Iteration waits up to the ``timeout`` given here.
    * **Multi-producer**: any number of publishers may publish on the channels.
    * **Multi-consumer**: fan-out: every subscriber gets every message.
    * **Loss**: messages published before the subscription, or while the
      connection is down, are not delivered. The subscriber does not reconnect
      by itself: a lost connection makes
      [`next_message`][proxyflow.shims.redis.pubsub.RedisSubscriber.next_message]
      raise [`BrokerConnectionError`][proxyflow.shims.redis.BrokerConnectionError]
      (every time after).
    * **close()**: unsubscribes and closes the connection; then
      [`next_message`][proxyflow.shims.redis.pubsub.RedisSubscriber.next_message]
      raises `EOFError` and iteration stops. Calling it from another thread
      while one reads is allowed: the reader finishes the close within
      ``poll_interval``. Idempotent.

    Read a subscriber from one thread at a time.

    ProxyStore's form ``RedisSubscriber(hostname, port, topic, **redis_options)``
    works too, with the same meaning (see
    [`RedisPublisher`][proxyflow.shims.redis.pubsub.RedisPublisher]).

    Args:
        url: The Redis URL (see [`RedisPublisher`][proxyflow.shims.redis.pubsub.RedisPublisher]).
        topics: One channel name or a sequence of them.
        topic: ProxyStore's form: the channel(s), after ``hostname, port``.
        hostname: ProxyStore's form, by keyword: the host name.
        port: ProxyStore's form, by keyword: the port.
        timeout: Seconds iteration, and ``next_message()`` without an
            argument, wait before raising `TimeoutError` (``None``: forever).
        socket_timeout: Seconds a read of a started message or a write may take.
        connect_timeout: Seconds connecting and subscribing may take.
        poll_interval: Longest single wait on the socket, so that a
            [`close`][proxyflow.shims.redis.pubsub.RedisSubscriber.close] from
            another thread is noticed.
        redis_options: ProxyStore's form: ``db``, ``username``, ``password``.

    Raises:
        InvalidBrokerURLError: if the URL is not a Redis URL.
        BrokerConnectionError: if the server cannot be reached or does not
            confirm the subscriptions within ``connect_timeout``, and, from
            ``next_message``, if the connection is lost.
        ValueError: if no topic is given or a timeout is negative.
        TypeError: if the arguments fit neither form (the message shows the URL form).
    """

    _label = "RedisSubscriber"
    _role = "subscriber"

    @overload
    def __init__(
        self,
        url: str,
        topics: str | Sequence[str],
        *,
        timeout: float | None = None,
        socket_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        poll_interval: float = 0.5,
    ) -> None: ...

    @overload
    def __init__(
        self,
        hostname: str,
        port: int,
        /,
        topic: str | Sequence[str],
        *,
        timeout: float | None = None,
        socket_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        poll_interval: float = 0.5,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
    ) -> None: ...

    def __init__(
        self,
        url: str | None = None,
        topics: str | Sequence[str] | int | None = None,
        topic: str | Sequence[str] | None = None,
        *,
        hostname: str | None = None,
        port: int | None = None,
        timeout: float | None = None,
        socket_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        poll_interval: float = 0.5,
        **redis_options: Any,
    ) -> None:
        target = subscriber_target(self._label, url, topics, topic, hostname, port, redis_options)
        super().__init__(target.url, target.topics, timeout=timeout, poll_interval=poll_interval)
        self._client = open_client(
            self._url, socket_timeout=socket_timeout, connect_timeout=connect_timeout
        )
        self._pubsub: PubSub = self._client.pubsub()  # type: ignore[no-untyped-call]
        try:
            self._subscribe(connect_timeout)
        except BaseException:
            self._release(None)
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

    def _take(self, wait: float) -> bytes | None:
        reply = self._pubsub.get_message(ignore_subscribe_messages=True, timeout=wait)
        if reply is not None and reply["type"] in ("message", "pmessage"):
            data: bytes = reply["data"]
            return data
        return None

    def _release(self, late: bytes | None) -> None:
        # A message that arrived after the close is dropped, as pub/sub drops
        # anything published to a subscriber that has gone.
        with contextlib.suppress(*REDIS_ERRORS):
            self._pubsub.close()
        self._client.close()


def _text(channel: bytes | str) -> str:
    return channel.decode() if isinstance(channel, bytes) else channel
