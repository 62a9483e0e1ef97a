"""Opening redis-py clients for the shim, and translating their errors.

All clients speak RESP2 (``protocol=2``) on purpose: redis-py 8 defaults to
RESP3, whose pub/sub read path costs roughly 10 ms more per MiB of message
(redis-py issue 4230), and the shim needs nothing RESP3 adds. redis-py's own
retries are off (``Retry(NoBackoff(), 0)``): a lost connection surfaces as
[`BrokerConnectionError`][proxyflow.shims.redis.BrokerConnectionError], and
the shim decides itself when to reconnect (see the publishers and
[`RedisSubscriber`][proxyflow.shims.redis.RedisSubscriber]), so that no loss
goes unreported.

[`broker_error`][proxyflow.shims.redis.connection.broker_error] turns every
redis-py error into the shim's error for it. URLs in messages have their
passwords hidden by [`proxyflow.api.redact_url`][proxyflow.api.urls.redact_url].
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.retry
from redis.backoff import NoBackoff
from redis.retry import Retry

from proxyflow.api import redact_url
from proxyflow.shims.redis.exceptions import (
    BrokerAuthenticationError,
    BrokerConnectionError,
    BrokerFullError,
    BrokerProtocolError,
    InvalidBrokerURLError,
    RedisShimError,
)

__all__ = [
    "CONNECTION_ERRORS",
    "REDIS_ERRORS",
    "broker_error",
    "dedicated_async_connection",
    "dedicated_connection",
    "open_async_client",
    "open_client",
    "translate_errors",
]

CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    OSError,
)
"""Exceptions of redis-py (and the socket layer) that mean the connection is unusable.

``redis.AuthenticationError`` is a ``redis.ConnectionError`` too, but
[`broker_error`][proxyflow.shims.redis.connection.broker_error] reports it as
what it is.
"""

REDIS_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
"""Every exception redis-py (or the socket layer under it) raises."""

_ADDRESS_HELP = "redis://[USER]:PASSWORD@host:port/db"


def _authentication_error(exc: redis.AuthenticationError, safe: str, doing: str) -> RedisShimError:
    text = str(exc)
    if "without any password configured" in text:
        advice = "the server has no password set: remove the password from the URL"
    elif "required" in text.lower():
        advice = (
            f"the server requires a password: put it in the URL, {_ADDRESS_HELP} "
            "(USER for an ACL user)"
        )
    else:
        advice = f"the server refused the user name or password of the URL: check {_ADDRESS_HELP}"
    return BrokerAuthenticationError(f"Redis at {safe}: {doing} failed: {advice} ({text})", safe)


def broker_error(
    exc: BaseException,
    url: str,
    doing: str,
    rejected: type[BrokerProtocolError] = BrokerProtocolError,
) -> RedisShimError:
    """Return the shim's error for an exception of redis-py (or the socket layer).

    Args:
        exc: The exception raised by redis-py.
        url: The (unredacted) server URL; the error names it redacted.
        doing: What was being done, for the message (``"publishing on 't'"``).
        rejected: The class for a command Redis answered with an error that
            has no class of its own (`PublishRejectedError` for publishers).

    Returns:
        A [`BrokerAuthenticationError`][proxyflow.shims.redis.BrokerAuthenticationError]
        (password missing or refused, ACL denial),
        [`BrokerFullError`][proxyflow.shims.redis.BrokerFullError] (``OOM``),
        [`BrokerProtocolError`][proxyflow.shims.redis.BrokerProtocolError] (not a
        Redis server, no such database, a read-only replica, anything unexpected),
        ``rejected`` (another error reply) or
        [`BrokerConnectionError`][proxyflow.shims.redis.BrokerConnectionError]
        (unreachable, lost, no answer in time).
    """
    safe = redact_url(url)
    if isinstance(exc, redis.AuthenticationError):
        return _authentication_error(exc, safe, doing)
    if isinstance(exc, redis.exceptions.AuthenticationWrongNumberOfArgsError):
        return BrokerAuthenticationError(
            f"Redis at {safe}: {doing} failed: the server knows no user names (Redis < 6): "
            f"give only a password, redis://:PASSWORD@host:port/db ({exc})",
            safe,
        )
    if isinstance(exc, redis.exceptions.NoPermissionError):
        return BrokerAuthenticationError(
            f"Redis at {safe}: {doing} failed: the URL's user may not do this ({exc}); "
            "allow it with ACL SETUSER (commands, keys and channels), or use another user",
            safe,
        )
    if isinstance(exc, redis.exceptions.OutOfMemoryError):
        return BrokerFullError(
            f"Redis at {safe}: {doing} failed: the server reached its maxmemory and refuses "
            "writes; let consumers catch up, raise maxmemory, or free memory",
            safe,
        )
    if isinstance(exc, redis.exceptions.InvalidResponse):
        return BrokerProtocolError(
            f"the server at {safe} is not a Redis server ({doing}: {exc}); check the host and port",
            safe,
        )
    if isinstance(exc, redis.exceptions.ReadOnlyError):
        return BrokerProtocolError(
            f"Redis at {safe}: {doing} failed: the server is a read-only replica; "
            "connect to its primary",
            safe,
        )
    if isinstance(exc, redis.ResponseError):
        if "DB index is out of range" in str(exc) or "invalid DB index" in str(exc):
            return BrokerProtocolError(
                f"Redis at {safe} has no database of the number in the URL ({doing}: {exc}); "
                "use a number below the server's 'databases' setting (16 by default)",
                safe,
            )
        return rejected(f"Redis at {safe}: {doing} failed: the server answered {exc}", safe)
    if isinstance(exc, redis.TimeoutError):
        return BrokerConnectionError(
            f"Redis at {safe}: {doing} failed: no answer within socket_timeout ({exc}); "
            "is the server overloaded, or not a Redis server?",
            safe,
        )
    if isinstance(exc, CONNECTION_ERRORS):
        return BrokerConnectionError(f"Redis at {safe}: {doing} failed: {exc}", safe)
    return BrokerProtocolError(f"Redis at {safe}: {doing} failed unexpectedly: {exc!r}", safe)


@contextmanager
def translate_errors(
    url: str, doing: str, rejected: type[BrokerProtocolError] = BrokerProtocolError
) -> Iterator[None]:
    """Raise the shim's error (see `broker_error`) for a redis-py error raised inside the block.

    Args:
        url: The (unredacted) server URL; the error names it redacted.
        doing: What was being done, for the message (``"publishing"``).
        rejected: The class for error replies that have no class of their own.
    """
    try:
        yield
    except REDIS_ERRORS as exc:
        raise broker_error(exc, url, doing, rejected) from exc


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
        RedisShimError: the error `broker_error` gives for a server that
            cannot be used (unreachable, password, database, not Redis).
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


def dedicated_connection(client: redis.Redis, url: str) -> Any:
    """Take one connection of ``client``'s pool for the caller's own use.

    The pool checks a connection it hands out and silently replaces a dead
    one, which would hide a server restart (and the messages it lost); a
    connection kept by its user reports the loss with the next command.

    Raises:
        RedisShimError: if connecting fails (see `broker_error`).
    """
    pool = client.connection_pool
    # redis-py < 5.3 requires a command name for get_connection(); later ones deprecate it.
    parameter = inspect.signature(pool.get_connection).parameters.get("command_name")
    needs_name = parameter is not None and parameter.default is inspect.Parameter.empty
    args: tuple[str, ...] = ("PING",) if needs_name else ()
    with translate_errors(url, "connecting"):
        return pool.get_connection(*args)


async def open_async_client(
    url: str, *, socket_timeout: float | None, connect_timeout: float | None
) -> redis.asyncio.Redis:
    """The asyncio form of [`open_client`][proxyflow.shims.redis.connection.open_client].

    Creates a RESP2 ``redis.asyncio`` client without retries and checks that
    the server answers ``PING``.

    Raises:
        InvalidBrokerURLError: if redis-py rejects the URL.
        RedisShimError: the error `broker_error` gives for a server that
            cannot be used (unreachable, password, database, not Redis).
    """
    try:
        client = redis.asyncio.Redis.from_url(
            url,
            protocol=2,
            socket_timeout=socket_timeout,
            socket_connect_timeout=connect_timeout,
            retry=redis.asyncio.retry.Retry(NoBackoff(), 0),
        )
    except ValueError as exc:
        raise InvalidBrokerURLError(f"not a Redis URL: {redact_url(url)} ({exc})") from None
    try:
        with translate_errors(url, "connecting"):
            await client.ping()
    except BaseException:
        await client.aclose()
        raise
    return client


async def dedicated_async_connection(client: redis.asyncio.Redis, url: str) -> Any:
    """Take one connection of an asyncio ``client``'s pool for the caller's own use.

    See [`dedicated_connection`][proxyflow.shims.redis.connection.dedicated_connection].

    Raises:
        RedisShimError: if connecting fails (see `broker_error`).
    """
    pool = client.connection_pool
    parameter = inspect.signature(pool.get_connection).parameters.get("command_name")
    needs_name = parameter is not None and parameter.default is inspect.Parameter.empty
    args: tuple[str, ...] = ("PING",) if needs_name else ()
    with translate_errors(url, "connecting"):
        return await pool.get_connection(*args)  # type: ignore[no-untyped-call]
