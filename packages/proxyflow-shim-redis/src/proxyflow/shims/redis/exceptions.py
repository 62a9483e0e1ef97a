"""Errors raised by the Redis shim.

Every error derives from [`RedisShimError`][proxyflow.shims.redis.exceptions.RedisShimError],
itself a [`ProxyflowError`][proxyflow.api.exceptions.ProxyflowError], *and*
from the built-in class the broker protocols speak of, so a caller that knows
nothing of this shim can catch ``ConnectionError``, ``TimeoutError``,
``EOFError``, ``RuntimeError`` or ``ValueError``. A lost or unreachable
server is also a
[`BackendUnavailableError`][proxyflow.api.exceptions.BackendUnavailableError],
as with every proxyflow backend. Errors of redis-py never escape: they are
translated here.

```text
ProxyflowError
 └── RedisShimError
      ├── BrokerConnectionError  (BackendUnavailableError, ConnectionError)
      │                          server unreachable or connection lost
      ├── SubscriberTimeoutError (TimeoutError)  no message within the timeout
      ├── SubscriberClosedError  (EOFError)      the subscriber was closed
      ├── PublisherClosedError   (RuntimeError)  send on a closed publisher
      ├── PublishRejectedError   (RuntimeError)  Redis refused a message
      └── InvalidBrokerURLError  (ValueError)    not a redis:// / rediss:// / unix:// URL
```
"""

from __future__ import annotations

from proxyflow.api import BackendUnavailableError, ProxyflowError

__all__ = [
    "BrokerConnectionError",
    "InvalidBrokerURLError",
    "PublishRejectedError",
    "PublisherClosedError",
    "RedisShimError",
    "SubscriberClosedError",
    "SubscriberTimeoutError",
]


class RedisShimError(ProxyflowError):
    """Base class of every error raised by ``proxyflow.shims.redis``."""


class BrokerConnectionError(RedisShimError, BackendUnavailableError):
    """The Redis server could not be reached, or the connection was lost.

    A ``ConnectionError`` and a
    [`BackendUnavailableError`][proxyflow.api.exceptions.BackendUnavailableError].
    The message names the URL with any password replaced by ``***``.

    Args:
        message: What went wrong and what to do about it.
        url: The redacted URL of the server.

    Attributes:
        url: The redacted URL of the server (also in ``backend``).
    """

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message, url)
        self.url = url


class SubscriberTimeoutError(RedisShimError, TimeoutError):
    """No message arrived before the receive timeout expired."""


class SubscriberClosedError(RedisShimError, EOFError):
    """The subscriber was closed; no more messages will be returned."""


class PublisherClosedError(RedisShimError, RuntimeError):
    """``send_message`` was called on a closed publisher."""


class PublishRejectedError(RedisShimError, RuntimeError):
    """Redis answered a ``PUBLISH`` or ``RPUSH`` with an error (an ACL denial, say).

    Publishers confirm sends in the background, so this is raised by a later
    ``send_message``, by ``flush()`` or by ``close()``; the message names the
    server's reply.
    """


class InvalidBrokerURLError(RedisShimError, ValueError):
    """The URL is not one redis-py understands (``redis://``, ``rediss://``, ``unix://``)."""
