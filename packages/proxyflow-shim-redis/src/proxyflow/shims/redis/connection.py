"""Opening redis-py clients for the shim, and translating their errors.

All clients speak RESP2 (``protocol=2``) on purpose: redis-py 8 defaults to
RESP3, whose pub/sub read path costs roughly 10 ms more per MiB of message
(redis-py issue 4230), and the shim needs nothing RESP3 adds. Retries are off
(``Retry(NoBackoff(), 0)``): a lost connection must surface as
[`BrokerConnectionError`][proxyflow.shims.redis.BrokerConnectionError] rather than be hidden by
a silent reconnect that would have dropped pub/sub messages in between.

URLs in messages have their passwords hidden by
[`proxyflow.api.redact_url`][proxyflow.api.urls.redact_url].
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from proxyflow.api import redact_url
from proxyflow.shims.redis.exceptions import BrokerConnectionError, InvalidBrokerURLError

__all__ = ["REDIS_ERRORS", "open_client", "translate_errors"]

REDIS_ERRORS: tuple[type[BaseException], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    OSError,
)
"""Exceptions of redis-py (and the socket layer) that mean the connection is unusable."""


@contextmanager
def translate_errors(url: str, doing: str) -> Iterator[None]:
    """Turn redis-py connection errors raised inside the block into broker errors.

    The errors become
    [`BrokerConnectionError`][proxyflow.shims.redis.exceptions.BrokerConnectionError].

    Args:
        url: The (unredacted) server URL; the error names it redacted.
        doing: What was being done, for the message (``"publishing"``).
    """
    try:
        yield
    except REDIS_ERRORS as exc:
        safe = redact_url(url)
        raise BrokerConnectionError(f"Redis at {safe}: {doing} failed: {exc}", safe) from exc


def open_client(
    url: str,
    *,
    socket_timeout: float | None,
    connect_timeout: float | None,
    ping: bool = True,
) -> redis.Redis:
    """Create a RESP2 client for ``url`` and, by default, check it answers ``PING``.

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://`` URL.
        socket_timeout: Seconds a read or write may take (``None``: no limit).
        connect_timeout: Seconds a TCP connect may take (``None``: no limit).
        ping: Whether to check the server at once.

    Raises:
        InvalidBrokerURLError: if redis-py rejects the URL.
        BrokerConnectionError: if the server does not answer within the timeouts.
    """
    options: dict[str, Any] = {
        "protocol": 2,
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": connect_timeout,
        "retry": Retry(NoBackoff(), 0),
    }
    try:
        client = redis.Redis.from_url(url, **options)
    except ValueError as exc:
        raise InvalidBrokerURLError(f"not a Redis URL: {redact_url(url)} ({exc})") from None
    if ping:
        try:
            with translate_errors(url, "connecting"):
                client.ping()
        except BaseException:
            client.close()
            raise
    return client
