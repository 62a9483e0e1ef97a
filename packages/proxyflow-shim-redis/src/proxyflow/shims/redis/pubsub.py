"""Redis pub/sub: fan-out delivery, nothing kept for absent subscribers."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, overload

from proxyflow.api import Message, check_timeout
from proxyflow.shims.redis._base import _RedisPublisherBase, _RedisSubscriberBase
from proxyflow.shims.redis.channels import Channels
from proxyflow.shims.redis.exceptions import (
    BrokerConnectionError,
    MessageNotReceivedError,
    RedisShimError,
)
from proxyflow.shims.redis.hostport import publisher_url, subscriber_target
from proxyflow.shims.redis.reconnect import Outage

__all__ = ["RedisPublisher", "RedisSubscriber", "check_receivers"]


def check_receivers(topic: str, receivers: int, min_receivers: int, url: str, instead: str) -> None:
    """Raise `MessageNotReceivedError` if a message on ``topic`` reached too few subscribers.

    Args:
        topic: The channel.
        receivers: How many subscribers Redis says got the message.
        min_receivers: How many it had to reach.
        url: The server URL, redacted.
        instead: The queue publisher class to suggest.
    """
    if receivers < min_receivers:
        raise MessageNotReceivedError(
            f"the message on {topic!r} reached {receivers} subscriber(s) of Redis at "
            f"{url}, fewer than min_receivers={min_receivers}: it is lost for "
            "the others (pub/sub keeps nothing). Send it again once they are subscribed, "
            f"or use {instead} when messages must wait",
            topic,
            receivers,
            min_receivers,
        )


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
      dropped by Redis; so are messages a subscriber misses while disconnected
      (a server restart, a network failure), or when it is too slow and Redis
      cuts it off at its ``client-output-buffer-limit pubsub``. Such a loss is
      visible: Redis tells the publisher how many subscribers got each message
      ([`unreceived`][proxyflow.shims.redis.pubsub.RedisPublisher.unreceived]
      counts those that reached none, and with ``min_receivers=n`` a message
      that reached fewer than ``n`` raises
      [`MessageNotReceivedError`][proxyflow.shims.redis.MessageNotReceivedError]),
      and a consumer that tracks sequence numbers (proxyflow's stream does)
      sees the missing messages as a gap. A lost connection raises
      [`BrokerConnectionError`][proxyflow.shims.redis.BrokerConnectionError]
      from the call that meets it, counting the sends still unconfirmed;
      the next call reconnects. Use
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
        min_receivers: Subscribers each message must reach; a message that
            reaches fewer raises `MessageNotReceivedError` from its own
            ``send_message`` (each send is then confirmed before it returns).
            ``0`` (the default) checks nothing.
        redis_options: ProxyStore's form: ``db``, ``username``, ``password``.

    Raises:
        InvalidBrokerURLError: if the URL is not a Redis URL.
        BrokerConnectionError: if the server does not answer (the URL is named,
            without its password).
        BrokerAuthenticationError: if the password is missing or refused.
        BrokerProtocolError: if the server is not Redis or lacks the database.
        ValueError: if ``max_unconfirmed`` or ``min_receivers`` is negative.
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
        min_receivers: int = 0,
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
        min_receivers: int = 0,
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
        min_receivers: int = 0,
        **redis_options: Any,
    ) -> None:
        if min_receivers < 0:
            raise ValueError(f"min_receivers must be >= 0, not {min_receivers}")
        super().__init__(
            publisher_url(self._label, url, port, hostname, redis_options),
            socket_timeout=socket_timeout,
            connect_timeout=connect_timeout,
            max_unconfirmed=0 if min_receivers else max_unconfirmed,
        )
        self._min_receivers = min_receivers
        self._unreceived = 0

    @property
    def min_receivers(self) -> int:
        """Subscribers each message must reach (``0``: not checked)."""
        return self._min_receivers

    @property
    def unreceived(self) -> int:
        """Messages confirmed so far that Redis delivered to no subscriber (lost for everyone).

        Counted as Redis's confirmations are read (see ``flush``).
        """
        return self._unreceived

    def _confirmed(self, topic: str, reply: Any) -> None:
        receivers = int(reply)
        if not receivers:
            self._unreceived += 1
        check_receivers(topic, receivers, self._min_receivers, self.url, "RedisQueuePublisher")

    def send_message(self, topic: str, message: Message) -> None:
        """Publish ``message`` on the channel ``topic``.

        Args:
            topic: The channel name.
            message: The message bytes.

        Raises:
            PublisherClosedError: if the publisher was closed.
            MessageNotReceivedError: with ``min_receivers``, if this message
                reached fewer subscribers.
            PublishRejectedError: if Redis rejected this or an earlier message
                (`BrokerAuthenticationError` for an ACL denial).
            BrokerConnectionError: if Redis cannot be reached; the message names
                the sends still unconfirmed. The next call reconnects.
            TypeError: if ``topic`` is not a string or ``message`` not bytes-like.
        """
        payload = self._payload(topic, message)
        self._send(topic, f"publishing on {topic!r}", "PUBLISH", topic, payload)


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
      connection is down, are not delivered. A lost connection (a server
      restart, a network failure, Redis cutting off a slow subscriber) is
      re-established, and every channel subscribed again, within
      ``reconnect_timeout`` seconds (retried with a growing pause of up to
      1 s); [`reconnects`][proxyflow.shims.redis.pubsub.RedisSubscriber.reconnects]
      counts how often. The messages published meanwhile are lost: proxyflow's
      stream consumer sees them as a gap in each producer's sequence numbers,
      and the publisher sees them in what Redis reports (see
      [`RedisPublisher`][proxyflow.shims.redis.pubsub.RedisPublisher]). When the
      connection cannot be re-established in time, or the server now refuses
      the credentials,
      [`next_message`][proxyflow.shims.redis.pubsub.RedisSubscriber.next_message]
      raises [`BrokerConnectionError`][proxyflow.shims.redis.BrokerConnectionError]
      (or the error for the refusal), then and every time after.
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
        reconnect_timeout: Seconds to keep trying to re-establish a lost
            connection (``None``: forever; ``0``: do not reconnect, report the
            loss at once).
        redis_options: ProxyStore's form: ``db``, ``username``, ``password``.

    Raises:
        InvalidBrokerURLError: if the URL is not a Redis URL.
        BrokerConnectionError: if the server cannot be reached or does not
            confirm the subscriptions within ``connect_timeout``, and, from
            ``next_message``, if a lost connection is not back within
            ``reconnect_timeout``.
        BrokerAuthenticationError: if the password is missing or refused.
        BrokerProtocolError: if the server is not Redis or lacks the database.
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
        reconnect_timeout: float | None = 30.0,
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
        reconnect_timeout: float | None = 30.0,
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
        reconnect_timeout: float | None = 30.0,
        **redis_options: Any,
    ) -> None:
        check_timeout(reconnect_timeout, "reconnect_timeout")
        target = subscriber_target(self._label, url, topics, topic, hostname, port, redis_options)
        super().__init__(target.url, target.topics, timeout=timeout, poll_interval=poll_interval)
        self._socket_timeout = socket_timeout
        self._connect_timeout = connect_timeout
        self._reconnect_timeout = reconnect_timeout
        self._outage: Outage | None = None
        self._reconnects = 0
        self._channels = self._open()

    @property
    def reconnects(self) -> int:
        """How many times a lost connection was re-established (each may have lost messages)."""
        return self._reconnects

    def _open(self) -> Channels:
        return Channels(
            self._url,
            self._topics,
            socket_timeout=self._socket_timeout,
            connect_timeout=self._connect_timeout,
        )

    def _take(self, wait: float) -> bytes | None:
        if self._outage is not None:
            self._recover(wait)
            return None
        return self._channels.get(wait)

    def _lost(self, error: BrokerConnectionError, cause: BaseException) -> bytes | None:
        if self._reconnect_timeout == 0:
            return super()._lost(error, cause)
        self._channels.close()
        self._outage = Outage(time.monotonic(), self._reconnect_timeout, error)
        return None

    def _recover(self, wait: float) -> None:
        """Try to reconnect when the outage's next attempt is due; wait at most ``wait`` s."""
        outage = self._outage
        assert outage is not None
        now = time.monotonic()
        if outage.expired(now):
            self._outage = None
            self._broken = outage.gave_up(list(self._topics))
            raise self._broken
        pause = outage.until_next_attempt(now)
        if pause > 0:
            time.sleep(min(wait, pause))  # at most poll_interval: close() stays prompt
            return
        try:
            self._channels = self._open()
        except BrokerConnectionError as error:
            outage.failed(time.monotonic(), error)
            return
        except RedisShimError as error:
            # Refused credentials, not a Redis server any more: trying again will not help.
            self._outage = None
            self._broken = error
            raise
        self._outage = None
        self._reconnects += 1

    def _release(self, late: bytes | None) -> None:
        # A message that arrived after the close is dropped, as pub/sub drops
        # anything published to a subscriber that has gone.
        self._channels.close()
