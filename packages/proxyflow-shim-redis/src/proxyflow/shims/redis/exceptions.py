"""Errors raised by the Redis shim.

Every error derives from [`RedisShimError`][proxyflow.shims.redis.exceptions.RedisShimError]
*and* from the built-in class the broker protocols speak of, so a caller that
knows nothing of this shim can catch ``ConnectionError``, ``TimeoutError``,
``EOFError``, ``RuntimeError`` or ``ValueError``. Errors of redis-py never
escape: they are translated here.

```text
RedisShimError
 ├── BrokerConnectionError  (ConnectionError)  server unreachable or connection lost
 ├── SubscriberTimeoutError (TimeoutError)     no message within the timeout
 ├── SubscriberClosedError  (EOFError)         the subscriber was closed
 ├── PublisherClosedError   (RuntimeError)     send on a closed publisher
 └── InvalidBrokerURLError  (ValueError)       not a redis:// / rediss:// / unix:// URL
```
"""

from __future__ import annotations

__all__ = [
    "BrokerConnectionError",
    "InvalidBrokerURLError",
    "PublisherClosedError",
    "RedisShimError",
    "SubscriberClosedError",
    "SubscriberTimeoutError",
]


class RedisShimError(Exception):
    """Base class of every error raised by ``proxyflow.shims.redis``."""


class BrokerConnectionError(RedisShimError, ConnectionError):
    """The Redis server could not be reached, or the connection was lost.

    The message names the URL with any password replaced by ``***``.

    Attributes:
        url: The redacted URL of the server.
    """

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
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
