"""Redis lists as work queues: each message to exactly one consumer, kept until read.

Delivery is **at most once**: ``BLPOP`` removes a message from its list as it
hands it out, so a consumer that dies with messages it took loses them. Use
the Redis Streams classes
([`RedisStreamPublisher`][proxyflow.shims.redis.stream_publisher.RedisStreamPublisher] /
[`RedisStreamSubscriber`][proxyflow.shims.redis.stream_subscriber.RedisStreamSubscriber])
when every message must be handled: they keep a message until it is
acknowledged and hand out again what a dead consumer held.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

from proxyflow.api import Message, Roster
from proxyflow.shims.redis._base import _RedisPublisherBase, _RedisSubscriberBase
from proxyflow.shims.redis._list_queue import (
    ListPopper,
    check_poll_interval,
    roster_field,
    topic_roster_key,
)
from proxyflow.shims.redis.connection import dedicated_connection, open_client, translate_errors
from proxyflow.shims.redis.exceptions import PublisherClosedError, SubscriberClosedError
from proxyflow.shims.redis.hostport import publisher_url, subscriber_target
from proxyflow.shims.redis.roster import JOINED, LEFT, parse_roster

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
      The publisher also keeps the producers' roster of each topic
      ([`join`][proxyflow.shims.redis.queue.RedisQueuePublisher.join] /
      [`leave`][proxyflow.shims.redis.queue.RedisQueuePublisher.leave], see
      [`proxyflow.shims.redis.roster`][proxyflow.shims.redis.roster]), so that
      every consumer knows when a topic has ended.
    * **Loss**: delivery is *at most once*. Messages wait in the list while
      no consumer runs, but only as long as Redis keeps its data: a server
      restart without persistence (RDB/AOF) loses the whole backlog, and
      nothing reports it to the publisher or the consumers (a consumer's
      connection error is the only sign). A message a consumer has popped is
      gone from Redis, even if the consumer dies before using it. Use a
      durable broker with acknowledgements (Redis Streams, NATS JetStream)
      when every message must survive a restart or a crash.
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
        BrokerAuthenticationError: if the password is missing or refused.
        BrokerProtocolError: if the server is not Redis or lacks the database.
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
            BrokerFullError: if Redis reached its ``maxmemory`` (the message is
                not stored).
            PublishRejectedError: if Redis rejected this (or an earlier) message
                (the key holds another type, say).
            BrokerAuthenticationError: if the user may not push to the key.
            BrokerConnectionError: if Redis cannot be reached; the message names
                the sends still unconfirmed. The next call reconnects.
            TypeError: if ``topic`` is not a string or ``message`` not bytes-like.
        """
        payload = self._payload(topic, message)
        self._send(topic, f"pushing to {topic!r}", "RPUSH", self._prefix + topic, payload)

    def join(self, topic: str, producer_id: bytes) -> None:
        """Record in the roster of ``topic`` that ``producer_id`` publishes on it (idempotent).

        Call it before the producer's first message on the topic.

        Raises:
            BrokerFullError: if Redis reached its ``maxmemory``.
            BrokerConnectionError: if Redis cannot be reached.
            TypeError: if ``topic`` is not a string or ``producer_id`` not bytes.
            ValueError: if ``producer_id`` is empty.
        """
        self._record(topic, JOINED, producer_id, "joining")

    def leave(self, topic: str, producer_id: bytes) -> None:
        """Record that ``producer_id`` sent its last message on ``topic`` (idempotent).

        First waits until Redis confirmed every message sent so far: if one
        was refused, the error is raised and nothing is recorded, so a roster
        never says a producer is done while one of its messages is missing.

        Raises:
            PublishRejectedError: if Redis refused an earlier message (or
                `BrokerFullError` / `BrokerAuthenticationError`).
            BrokerConnectionError: if Redis cannot be reached.
            TypeError: if ``topic`` is not a string or ``producer_id`` not bytes.
            ValueError: if ``producer_id`` is empty.
        """
        self._record(topic, LEFT, producer_id, "leaving")

    def clear_roster(self, topic: str) -> None:
        """Forget every producer of ``topic``: do it before reusing a finished topic's name.

        Raises:
            BrokerConnectionError: if Redis cannot be reached.
        """
        self._call(f"clearing the roster of {topic!r}", "DEL", self._roster_key(topic))

    def _roster_key(self, topic: str) -> str:
        if self._closed:
            raise PublisherClosedError(f"roster change on a closed {self._label}")
        return topic_roster_key(self._prefix, topic)

    def _record(self, topic: str, kind: bytes, producer_id: bytes, doing: str) -> None:
        key = self._roster_key(topic)
        field = roster_field(kind, producer_id)
        self._call(f"{doing} the roster of {topic!r}", "HSET", key, field, b"1")

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
    * **Multi-consumer, end of stream**:
      [`roster`][proxyflow.shims.redis.queue.RedisQueueSubscriber.roster]
      returns the producers that joined and left a topic. Once it is complete
      (every producer that joined has left), whatever is still in the list is
      the rest of the topic: read the roster *before* checking that the list
      is empty.
    * **Loss**: delivery is *at most once*. A message is removed when it is
      handed to a subscriber; if the connection drops after Redis popped a
      message but before it was read, that one message is lost and
      [`next_message`][proxyflow.shims.redis.queue.RedisQueueSubscriber.next_message]
      raises [`BrokerConnectionError`][proxyflow.shims.redis.BrokerConnectionError],
      then and every time after: the subscriber does not reconnect, because
      it cannot tell what was lost (after a Redis restart without
      persistence, the whole backlog and the rosters are gone). A message
      handed out is gone from Redis even if the consumer dies before using it.
      For at-least-once delivery use
      [`RedisStreamSubscriber`][proxyflow.shims.redis.stream_subscriber.RedisStreamSubscriber].
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
        check_poll_interval(socket_timeout, poll_interval)
        self._prefix = prefix
        self._client = open_client(
            self._url, socket_timeout=socket_timeout, connect_timeout=connect_timeout
        )
        # Pops go through a connection of our own: the pool would replace a
        # dead one silently, hiding a restart that lost the backlog.
        try:
            self._connection: Any = dedicated_connection(self._client, self._url)
        except BaseException:
            self._client.close()
            raise
        self._popper = ListPopper(
            self._connection, [prefix + topic for topic in self._topics], self._url
        )

    def _take(self, wait: float) -> bytes | None:
        popped = self._popper.pop(wait)
        if popped is None:
            return None
        if self._closed:
            # Popped after the close: back to the head of its list, so nothing is lost.
            self._popper.give_back(popped)
            return None
        return popped.value

    def roster(self, topic: str) -> Roster:
        """Return the producers that joined and left ``topic`` so far (one ``HKEYS``).

        Any topic may be asked for, not only those this subscriber reads.

        Raises:
            SubscriberClosedError: if the subscriber was closed.
            BrokerConnectionError: if Redis cannot be reached.
            TypeError: if ``topic`` is not a string.
        """
        if self._closed:
            raise SubscriberClosedError(f"roster() on a closed {self._label}")
        key = topic_roster_key(self._prefix, topic)
        with translate_errors(self._url, f"reading the roster of {topic!r}"):
            fields = self._client.hkeys(key)
        return parse_roster(fields)  # type: ignore[arg-type]

    def _release(self, late: bytes | None) -> None:
        # Late messages are pushed back by _take or returned (return_late).
        self._connection.disconnect()
        self._client.connection_pool.release(self._connection)
        self._client.close()
