"""Redis lists as work queues: each message to exactly one consumer, kept until read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

from proxyflow.api import Message
from proxyflow.shims.redis._base import _RedisPublisherBase, _RedisSubscriberBase
from proxyflow.shims.redis.connection import open_client, translate_errors
from proxyflow.shims.redis.hostport import publisher_url, subscriber_target

__all__ = ["DEFAULT_QUEUE_PREFIX", "RedisQueuePublisher", "RedisQueueSubscriber"]

DEFAULT_QUEUE_PREFIX = "proxyflow:queue:"
"""Prefix of the Redis key holding a topic's list: ``proxyflow:queue:<topic>``."""


class RedisQueuePublisher(_RedisPublisherBase):
    """Appends messages to one Redis list per topic (``RPUSH``).

    Behaviour:

    * **Ordering**: FIFO per topic: messages from one publisher on one topic are
      taken in the order sent.
    * **Blocking**: by default ``send_message`` returns once Redis has stored
      the message (at most ``socket_timeout``); lists are unbounded, so it never
      waits for room. With ``max_unconfirmed=n > 0`` up to ``n`` messages may
      wait for Redis's confirmation (one round trip saved per message), read on
      later sends, [`flush`][proxyflow.shims.redis.queue.RedisQueuePublisher.flush]
      and [`close`][proxyflow.shims.redis.queue.RedisQueuePublisher.close].
    * **Multi-producer**: any number of publishers may push to a topic; a
      publisher may be shared by threads.
    * **Multi-consumer**: work sharing: each message is taken by exactly one
      [`RedisQueueSubscriber`][proxyflow.shims.redis.queue.RedisQueueSubscriber].
    * **Loss**: none while Redis keeps its data: messages wait in the list when
      no consumer runs (persistence across a Redis restart depends on the
      server's RDB/AOF settings).
    * **close()**: confirms what was sent, then closes the connection; later
      sends raise [`PublisherClosedError`][proxyflow.shims.redis.PublisherClosedError]. Idempotent.

    ProxyStore's form ``RedisQueuePublisher(hostname, port, **redis_options)``
    works too (see [`RedisPublisher`][proxyflow.shims.redis.pubsub.RedisPublisher]).
    ProxyStore pushes to the key ``topic`` itself: pass ``prefix=""`` to share
    lists with ProxyStore code.

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://`` URL.
        port: ProxyStore's form: the port of the server named by ``url`` (a host name).
        hostname: ProxyStore's form, by keyword: the host name.
        prefix: Prefix of the list keys; the key of topic ``t`` is ``prefix + t``.
        socket_timeout: Seconds a read or write may take.
        connect_timeout: Seconds connecting may take.
        max_unconfirmed: Messages that may wait for Redis's confirmation
            (default ``0``: each send is confirmed before it returns).
        redis_options: ProxyStore's form: ``db``, ``username``, ``password``.

    Raises:
        InvalidBrokerURLError: if the URL is not a Redis URL.
        BrokerConnectionError: if the server does not answer.
        TypeError: if the arguments fit neither form (the message shows the URL form).

    Example:
        ```python
        from proxyflow.shims.redis import RedisQueuePublisher, RedisQueueSubscriber

        publisher = RedisQueuePublisher("redis://localhost:6379")
        publisher.send_message("jobs", b"job-1")  # kept until someone reads it
        worker = RedisQueueSubscriber("redis://localhost:6379", ["jobs"])
        assert worker.next_message(timeout=1.0) == b"job-1"
        ```
    """

    _label = "RedisQueuePublisher"

    @overload
    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_QUEUE_PREFIX,
        socket_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        max_unconfirmed: int = 0,
    ) -> None: ...

    @overload
    def __init__(
        self,
        hostname: str,
        port: int,
        /,
        *,
        prefix: str = DEFAULT_QUEUE_PREFIX,
        socket_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        max_unconfirmed: int = 0,
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
        prefix: str = DEFAULT_QUEUE_PREFIX,
        socket_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        max_unconfirmed: int = 0,
        **redis_options: Any,
    ) -> None:
        super().__init__(
            publisher_url(self._label, url, port, hostname, redis_options),
            socket_timeout=socket_timeout,
            connect_timeout=connect_timeout,
            max_unconfirmed=max_unconfirmed,
        )
        self._prefix = prefix

    @property
    def prefix(self) -> str:
        """The key prefix of the topic lists."""
        return self._prefix

    def send_message(self, topic: str, message: Message) -> None:
        """Append ``message`` to the list of ``topic``.

        Args:
            topic: The topic; its list key is ``prefix + topic``.
            message: The message bytes.

        Raises:
            PublisherClosedError: if the publisher was closed.
            PublishRejectedError: if Redis rejected this (or an earlier) message.
            BrokerConnectionError: if Redis cannot be reached.
            TypeError: if ``topic`` is not a string or ``message`` not bytes-like.
        """
        payload = self._payload(topic, message)
        self._send(f"pushing to {topic!r}", "RPUSH", self._prefix + topic, payload)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"RedisQueuePublisher({self.url!r}, prefix={self._prefix!r}, {state})"


class RedisQueueSubscriber(_RedisSubscriberBase):
    """Takes messages from the Redis lists of one or more topics (``BLPOP``).

    Behaviour:

    * **Ordering**: FIFO per topic. With several topics, the order in which the
      lists are checked rotates on every call so that no topic starves.
    * **Blocking**: [`next_message`][proxyflow.shims.redis.queue.RedisQueueSubscriber.next_message]
      waits up to its ``timeout`` (``None``: until a message arrives or the
      subscriber is closed), issuing ``BLPOP`` calls of at most
      ``poll_interval`` seconds so that
      [`close`][proxyflow.shims.redis.queue.RedisQueueSubscriber.close] and
      timeouts are honoured. Iteration waits up to the ``timeout`` given here.
    * **Multi-producer**: any number of publishers may push to the topics.
    * **Multi-consumer**: work sharing: Redis hands each message to exactly one
      of the subscribers waiting on its list.
    * **Loss**: none while the connection holds: a message is removed only when
      it is handed to a subscriber. If the connection drops after Redis popped
      a message but before it was read, that one message is lost (at-most-once);
      [`next_message`][proxyflow.shims.redis.queue.RedisQueueSubscriber.next_message] then raises
      [`BrokerConnectionError`][proxyflow.shims.redis.BrokerConnectionError].
    * **close()**: closes the connection; then
      [`next_message`][proxyflow.shims.redis.queue.RedisQueueSubscriber.next_message]
      raises `EOFError` and iteration stops. From another thread while one
      reads, the reader finishes the close within ``poll_interval`` and pushes
      back to the head of its list a message it popped after the close (one
      popped just before the close is returned), so nothing is lost. Idempotent.

    Read a subscriber from one thread at a time.

    ProxyStore's form ``RedisQueueSubscriber(hostname, port, topic, *,
    timeout=None, **redis_options)`` works too, with the same meaning (see
    [`RedisPublisher`][proxyflow.shims.redis.pubsub.RedisPublisher]); its
    ``timeout`` bounds ``next_message()`` and iteration, as here.

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://`` URL.
        topics: One topic or a sequence of them.
        topic: ProxyStore's form: the topic(s), after ``hostname, port``.
        hostname: ProxyStore's form, by keyword: the host name.
        port: ProxyStore's form, by keyword: the port.
        prefix: Prefix of the list keys (as given to the publisher).
        timeout: Seconds iteration, and ``next_message()`` without an
            argument, wait before raising `TimeoutError` (``None``: forever).
        socket_timeout: Seconds a read or write may take; must exceed ``poll_interval``.
        connect_timeout: Seconds connecting may take.
        poll_interval: Longest single ``BLPOP`` wait.
        redis_options: ProxyStore's form: ``db``, ``username``, ``password``.

    Raises:
        InvalidBrokerURLError: if the URL is not a Redis URL.
        BrokerConnectionError: if the server does not answer, and, from
            ``next_message``, if the connection is lost.
        ValueError: if no topic is given or the timeouts do not fit together.
        TypeError: if the arguments fit neither form (the message shows the URL form).
    """

    _label = "RedisQueueSubscriber"
    _role = "queue subscriber"
    return_late = True  # popped before close() took effect: the reader gets it

    @overload
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
    ) -> None: ...

    @overload
    def __init__(
        self,
        hostname: str,
        port: int,
        /,
        topic: str | Sequence[str],
        *,
        prefix: str = DEFAULT_QUEUE_PREFIX,
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
        prefix: str = DEFAULT_QUEUE_PREFIX,
        timeout: float | None = None,
        socket_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        poll_interval: float = 0.5,
        **redis_options: Any,
    ) -> None:
        target = subscriber_target(self._label, url, topics, topic, hostname, port, redis_options)
        super().__init__(target.url, target.topics, timeout=timeout, poll_interval=poll_interval)
        if socket_timeout is not None and socket_timeout <= poll_interval:
            raise ValueError(
                f"socket_timeout ({socket_timeout}s) must exceed poll_interval "
                f"({poll_interval}s): a BLPOP waits that long for an answer"
            )
        self._prefix = prefix
        self._keys = [prefix + topic for topic in self._topics]
        self._client = open_client(
            self._url, socket_timeout=socket_timeout, connect_timeout=connect_timeout
        )

    def _take(self, wait: float) -> bytes | None:
        keys = self._keys
        if len(keys) > 1:
            self._keys = keys[1:] + keys[:1]
        key: bytes | str
        value: bytes | None = None
        if wait < 0.001:  # BLPOP 0 would block forever: take only what is there
            for key in keys:
                value = self._client.lpop(key)  # type: ignore[assignment]
                if value is not None:
                    break
        else:
            reply: tuple[bytes, bytes] | None = self._client.blpop(keys, timeout=wait)  # type: ignore[assignment]
            if reply is not None:
                key, value = reply
        if value is not None and self._closed:
            # Popped after the close: back to the head of its list, so nothing is lost.
            with translate_errors(self._url, "returning a message taken during close"):
                self._client.lpush(key, value)
            return None
        return value

    def _release(self, late: bytes | None) -> None:
        # Late messages are pushed back by _take or returned (return_late).
        self._client.close()
