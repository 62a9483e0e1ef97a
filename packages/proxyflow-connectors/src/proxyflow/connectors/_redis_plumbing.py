"""The connection plumbing of the Redis connector: pool, round trips, all-or-nothing writes.

[`RedisConnector`][proxyflow.connectors.redis.RedisConnector] is the public
face (keys, options, ``config()``); this base opens redis-py's connection pool
and does the work under it: packed commands sent on a pooled connection with
every reply read, ``SET`` writes that delete what they stored when one fails
(and recognise a value over ``proto-max-bulk-len``), ``GETDEL`` with its
``MULTI``/``EXEC`` fallback for Redis < 6.2, and the translation of redis-py's
errors into the connector's typed ones.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from proxyflow.api.buffers import BytesLike
from proxyflow.api.closing import Closeable
from proxyflow.api.urls import redact_url
from proxyflow.connectors._keys import check_key
from proxyflow.connectors._redis_async import AsyncClients
from proxyflow.connectors._redis_client import (
    ParserChoice,
    import_redis,
    location_url,
    parser_class,
    timeout_seconds,
)
from proxyflow.connectors._redis_errors import (
    DEFAULT_MAX_BULK,
    RedisTarget,
    is_too_large_reply,
    too_large,
    translate,
)
from proxyflow.connectors._resp import coalesce, command
from proxyflow.connectors.exceptions import (
    ConnectorError,
    InvalidConfigError,
    record_leftover_keys,
)

__all__ = ["DEFAULT_PASSWORD_ENV", "RedisPlumbing"]

DEFAULT_PASSWORD_ENV = "PROXYFLOW_REDIS_PASSWORD"
"""Environment variable read for the Redis password when ``password_env`` is not given."""

_MIN_MAX_BULK = 1024 * 1024
"""The smallest ``proto-max-bulk-len`` Redis allows: smaller values never hit the limit."""


class RedisPlumbing(Closeable):
    """A redis-py connection pool and the round trips the Redis connector makes on it."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        socket_timeout: float,
        connect_timeout: float,
        password_env: str | None,
        parser: ParserChoice,
    ) -> None:
        """Open (lazily: no I/O) a pool for the server at ``url``.

        Raises:
            MissingDependencyError: redis-py (or hiredis, if asked for) is missing.
            InvalidConfigError: The URL or a timeout is invalid.
        """
        redis = import_redis()
        self._shown = redact_url(url)
        self._prefix = prefix
        self._socket_timeout = timeout_seconds("socket_timeout", socket_timeout)
        self._connect_timeout = timeout_seconds("connect_timeout", connect_timeout)
        self._password_env = password_env
        options: dict[str, Any] = {
            "socket_timeout": self._socket_timeout,
            "socket_connect_timeout": self._connect_timeout,
            "protocol": 2,
        }
        password = os.environ.get(password_env or DEFAULT_PASSWORD_ENV)
        if password:
            options["password"] = password  # a password in the URL takes precedence
        async_options = dict(options)
        chosen_parser = parser_class(parser)
        if chosen_parser is not None:
            options["parser_class"] = chosen_parser
        retry = redis.retry.Retry(redis.backoff.NoBackoff(), 0)
        try:
            self._pool = redis.ConnectionPool.from_url(url, retry=retry, **options)
        except (ValueError, TypeError) as exc:
            raise InvalidConfigError(f"invalid Redis URL {self._shown!r}: {exc}") from None
        # The asyncio clients, one per loop, made on first use with the same settings.
        self._async = AsyncClients(redis, url, async_options, parser)
        self._url = location_url(url)
        self._client = redis.Redis(connection_pool=self._pool)
        self._redis = redis
        self._prefix_bytes: bytes = self._pool.get_encoder().encode(prefix)
        kwargs = self._pool.connection_kwargs
        self._target = RedisTarget(
            url=self._shown,
            db=int(kwargs.get("db") or 0),
            prefix=prefix,
            password_env=password_env or DEFAULT_PASSWORD_ENV,
            connect_timeout=self._connect_timeout,
            socket_timeout=self._socket_timeout,
        )
        # redis-py < 5.3 requires a command name for get_connection(); later ones deprecate it.
        parameter = inspect.signature(self._pool.get_connection).parameters.get("command_name")
        needs_name = parameter is not None and parameter.default is inspect.Parameter.empty
        self._connection_args: tuple[str, ...] = ("SET",) if needs_name else ()
        self._getdel_supported = True
        self._getdel_lock = threading.Lock()
        self._max_bulk: int | None = None

    # -- errors -----------------------------------------------------------------------------

    def _error(self, exc: Exception) -> ConnectorError:
        return translate(self._redis, exc, self._target)

    @contextlib.contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except ConnectorError:
            raise
        except (self._redis.exceptions.RedisError, OSError) as exc:
            raise self._error(exc) from exc

    # -- writing ----------------------------------------------------------------------------

    def _name(self, key: str) -> bytes:
        """The Redis key of ``key``, as bytes (``key`` is checked: ASCII only)."""
        return self._prefix_bytes + check_key(key).encode("ascii")

    def _round_trip(self, pieces: Sequence[BytesLike], replies: int) -> list[Any]:
        """Send packed ``pieces`` on a pooled connection and read ``replies`` replies.

        Error replies are returned in place (every reply is read, so the
        connection goes back to the pool clean). Other failures propagate as
        redis-py raised them (the connection's socket timeout applies).
        """
        return self._exchange(self._pool.get_connection(*self._connection_args), pieces, replies)

    def _exchange(self, connection: Any, pieces: Sequence[BytesLike], replies: int) -> list[Any]:
        """The body of `_round_trip` on a connection taken from the pool (released here)."""
        try:
            connection.send_packed_command(pieces)
            results: list[Any] = []
            response_error = self._redis.exceptions.ResponseError
            for _ in range(replies):
                try:
                    results.append(connection.read_response())
                except response_error as exc:
                    results.append(exc)
        except BaseException:
            connection.disconnect()
            raise
        finally:
            self._pool.release(connection)
        return results

    def _checked_round_trip(self, pieces: Sequence[BytesLike], replies: int) -> list[Any]:
        """Like `_round_trip`, but raise the first error reply (as redis-py's exception)."""
        results = self._round_trip(pieces, replies)
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results

    def _write(self, keys: list[str], pieces: Sequence[BytesLike], sizes: Sequence[int]) -> None:
        """Run the ``SET`` commands in ``pieces`` (one per key), all or nothing."""
        biggest = max(sizes, default=0)
        limit = self._max_bulk
        if limit is not None and biggest > limit:
            raise too_large(self._target, biggest, limit)
        try:
            connection = self._pool.get_connection(*self._connection_args)
        except Exception as exc:  # nothing was sent: nothing to remove
            raise self._error(exc) from exc
        names = [self._prefix_bytes + key.encode("ascii") for key in keys]
        try:
            results = self._exchange(connection, pieces, len(keys))
        except Exception as exc:
            error = self._write_failure(exc, biggest)
            self._remove(keys, names, error)
            raise error from exc
        failures = [result for result in results if isinstance(result, Exception)]
        if failures:
            first = failures[0]
            if is_too_large_reply(str(first)):
                error = too_large(self._target, biggest, self._probe_max_bulk())
            else:
                error = self._error(first)
            stored = [
                (key, name)
                for key, name, result in zip(keys, names, results, strict=True)
                if not isinstance(result, Exception)
            ]
            self._remove([key for key, _ in stored], [name for _, name in stored], error)
            raise error from first

    def _write_failure(self, exc: Exception, biggest: int) -> ConnectorError:
        """The error for a write that failed without a reply: maybe a value over the limit.

        Redis closes the connection when a value is over ``proto-max-bulk-len``,
        which looks like a lost server; the limit is then asked for on a new
        connection.
        """
        errors = self._redis.exceptions
        lost = isinstance(exc, (errors.ConnectionError, OSError)) and not isinstance(
            exc, errors.AuthenticationError
        )
        if lost and biggest > _MIN_MAX_BULK:
            limit = self._probe_max_bulk()
            if (limit is not None and biggest > limit) or (
                limit is None and biggest > DEFAULT_MAX_BULK
            ):
                return too_large(self._target, biggest, limit)
        return self._error(exc)

    def _probe_max_bulk(self) -> int | None:
        """Ask the server for ``proto-max-bulk-len`` (``None`` if it will not say); remember it."""
        try:
            reply = self._client.execute_command("CONFIG", "GET", "proto-max-bulk-len")
            limit = int(reply[1])
        except Exception:
            return None
        self._max_bulk = limit
        return limit

    def _remove(self, keys: list[str], names: list[bytes], error: ConnectorError) -> None:
        """Delete what a failed write may have stored; record on ``error`` what stays."""
        if not names:
            return
        try:
            self._client.execute_command("DEL", *names)
        except Exception:
            record_leftover_keys(error, keys)

    def _get_names(self, names: list[bytes], *, evict: bool) -> list[bytes | None]:
        if not names:
            return []
        with self._translate_errors():
            if not evict:
                values: list[bytes | None] = self._client.execute_command("MGET", *names)
                return values
            if self._getdel_supported:
                try:
                    return self._checked_round_trip(
                        coalesce(command(b"GETDEL", name) for name in names), len(names)
                    )
                except self._redis.exceptions.ResponseError as exc:
                    self._check_unknown_command(exc)
            pipe = self._client.pipeline(transaction=True)
            pipe.execute_command("MGET", *names)
            pipe.execute_command("DEL", *names)
            got, _deleted = pipe.execute()
            return list(got)

    def _check_unknown_command(self, exc: Exception) -> None:
        """Switch to the MULTI/EXEC fallback if ``exc`` says GETDEL is unknown, else re-raise."""
        if "unknown command" not in str(exc).lower():
            raise exc
        with self._getdel_lock:
            self._getdel_supported = False
