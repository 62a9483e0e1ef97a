"""Errors raised by the Redis shim.

Every error derives from [`RedisShimError`][proxyflow.shims.redis.exceptions.RedisShimError],
itself a [`ProxyflowError`][proxyflow.api.exceptions.ProxyflowError], *and*
from the built-in class the broker protocols speak of, so a caller that knows
nothing of this shim can catch ``ConnectionError``, ``PermissionError``,
``TimeoutError``, ``EOFError``, ``RuntimeError`` or ``ValueError``. Failures
of the server are also the matching
[`proxyflow.api`][proxyflow.api.exceptions] class (`BackendUnavailableError`,
`BackendAuthenticationError`, `BackendFullError`, `BackendProtocolError`), as
with every proxyflow backend. Errors of redis-py never escape: they are
translated here, with the server's URL shown without its password.

```text
ProxyflowError
 └── RedisShimError
      ├── BrokerConnectionError      (BackendUnavailableError, ConnectionError)
      │                              server unreachable or connection lost
      ├── BrokerAuthenticationError  (BackendAuthenticationError, PermissionError)
      │                              password missing or refused, command not allowed (ACL)
      ├── BrokerFullError            (BackendFullError)  maxmemory reached: writes refused
      ├── BrokerProtocolError        (BackendProtocolError)
      │    │                         not a Redis server, no such database, a read-only replica
      │    └── PublishRejectedError  (RuntimeError)  Redis refused a message (a key of another type)
      ├── MessageNotReceivedError    (RuntimeError)  a message reached too few subscribers
      ├── SubscriberTimeoutError     (TimeoutError)  no message within the timeout
      ├── SubscriberClosedError      (EOFError)      the subscriber was closed
      ├── PublisherClosedError       (RuntimeError)  send on a closed publisher
      ├── InvalidBrokerURLError      (ValueError)    not a redis:// / rediss:// / unix:// URL
      ├── StreamsUnsupportedError    (BrokerProtocolError)  server too old for the Streams shim
      ├── StreamTrimmedError         (BackendFullError)  a length cap removed unfinished entries
      └── DeliveryReleasedError      (ConnectionError)   settling after close() gave it back
```
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from proxyflow.api import (
    BackendAuthenticationError,
    BackendFullError,
    BackendProtocolError,
    BackendUnavailableError,
    ProxyflowError,
)

if TYPE_CHECKING:
    from proxyflow.shims.redis.stream_trim import TrimReport

__all__ = [
    "BrokerAuthenticationError",
    "BrokerConnectionError",
    "BrokerFullError",
    "BrokerProtocolError",
    "DeliveryReleasedError",
    "InvalidBrokerURLError",
    "MessageNotReceivedError",
    "PublishRejectedError",
    "PublisherClosedError",
    "RedisShimError",
    "StreamTrimmedError",
    "StreamsUnsupportedError",
    "SubscriberClosedError",
    "SubscriberTimeoutError",
]


class RedisShimError(ProxyflowError):
    """Base class of every error raised by ``proxyflow.shims.redis``."""


class _ServerError(RedisShimError):
    """A failure of the server at ``url``: the message names it, password hidden.

    Args:
        message: What went wrong and what to do about it.
        url: The redacted URL of the server.

    Attributes:
        url: The redacted URL of the server (also in ``backend``).
    """

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message, url)  # BackendError(message, backend)
        self.url = url


class BrokerConnectionError(_ServerError, BackendUnavailableError):
    """The Redis server could not be reached, or the connection was lost.

    A ``ConnectionError`` and a
    [`BackendUnavailableError`][proxyflow.api.exceptions.BackendUnavailableError].
    The message names the URL with any password replaced by ``***``.
    """


class BrokerAuthenticationError(_ServerError, BackendAuthenticationError):
    """Redis wants a password the URL lacks, refused the one given, or forbids a command.

    A ``PermissionError`` and a
    [`BackendAuthenticationError`][proxyflow.api.exceptions.BackendAuthenticationError].
    The message says which part of the URL (or which ACL rule) to change.
    """


class BrokerFullError(_ServerError, BackendFullError):
    """Redis reached its ``maxmemory`` and refuses writes (``OOM``).

    A [`BackendFullError`][proxyflow.api.exceptions.BackendFullError]. The
    message that was refused is not stored.
    """


class BrokerProtocolError(_ServerError, BackendProtocolError):
    """The server is not what the URL promised.

    Not a Redis server at all, a database number the server does not have, a
    read-only replica, or an answer the shim did not expect. A
    [`BackendProtocolError`][proxyflow.api.exceptions.BackendProtocolError].
    """


class PublishRejectedError(BrokerProtocolError, RuntimeError):
    """Redis answered a ``PUBLISH`` or ``RPUSH`` with an error (a key of another type, say).

    Publishers confirm sends in the background, so with ``max_unconfirmed > 0``
    this is raised by a later ``send_message``, by ``flush()`` or by
    ``close()``; the message names the server's reply. Refusals with a class
    of their own (`BrokerFullError`, `BrokerAuthenticationError`) are raised
    as those.
    """


class MessageNotReceivedError(RedisShimError, RuntimeError):
    """A published message reached fewer subscribers than ``min_receivers``.

    Raised by ``RedisPublisher.send_message`` for the message it sent: Redis
    delivered it to ``receivers`` subscribers only, so it is lost for the
    others (pub/sub keeps nothing). Sending it again reaches the subscribers
    connected by then.

    Attributes:
        topic: The channel of the message.
        receivers: How many subscribers Redis delivered it to.
        expected: The publisher's ``min_receivers``.
    """

    def __init__(self, message: str, topic: str, receivers: int, expected: int) -> None:
        super().__init__(message)
        self.topic = topic
        self.receivers = receivers
        self.expected = expected


class SubscriberTimeoutError(RedisShimError, TimeoutError):
    """No message arrived before the receive timeout expired."""


class SubscriberClosedError(RedisShimError, EOFError):
    """The subscriber was closed; no more messages will be returned."""


class PublisherClosedError(RedisShimError, RuntimeError):
    """``send_message`` was called on a closed publisher."""


class InvalidBrokerURLError(RedisShimError, ValueError):
    """The URL is not one redis-py understands (``redis://``, ``rediss://``, ``unix://``)."""


class StreamsUnsupportedError(BrokerProtocolError):
    """The server lacks a Redis Streams command the shim needs.

    ``RedisStreamSubscriber`` needs Redis 6.2 or later (``XAUTOCLAIM``); a
    ``RedisStreamPublisher`` with a length cap needs 7.0 (the consumer groups'
    read counters, to report trimmed entries). The message names the server's
    version.
    """


class StreamTrimmedError(_ServerError, BackendFullError):
    """A stream's length cap (``maxlen``) removed entries a consumer group had not finished.

    Raised by ``RedisStreamPublisher.flush()`` and ``close()`` after the
    publisher's own adds trimmed entries that a group had not read, or had
    read but not acknowledged. The messages were stored once and are gone
    now: the loss is reported, never repaired.

    Args:
        message: What was lost, per topic and group.
        url: The redacted URL of the server.
        reports: The [`TrimReport`][proxyflow.shims.redis.stream_trim.TrimReport]s.

    Attributes:
        reports: One [`TrimReport`][proxyflow.shims.redis.stream_trim.TrimReport]
            per trim that removed entries of a group.
    """

    def __init__(self, message: str, url: str, reports: tuple[TrimReport, ...]) -> None:
        super().__init__(message, url)
        self.reports = reports


class DeliveryReleasedError(RedisShimError, ConnectionError):
    """A delivery was acknowledged or rejected after its subscriber's ``close()``.

    ``close()`` gives every unsettled delivery back to the consumer group, which
    hands it out again: the acknowledgement came too late, and the message
    will be delivered again (at-least-once).
    """
