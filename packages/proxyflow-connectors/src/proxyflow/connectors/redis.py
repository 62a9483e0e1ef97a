"""A connector that keeps objects in a Redis server, through redis-py.

redis-py is an optional dependency: ``pip install 'proxyflow-connectors[redis]'``
(add ``[hiredis]`` for the faster C reply parser; it is never required).
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import threading
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

from proxyflow.connectors._buffers import FlatBuffer, flat_buffer, flat_buffers
from proxyflow.connectors._config import check_config
from proxyflow.connectors._keys import check_key, new_key, new_keys
from proxyflow.connectors._resp import CRLF, coalesce, command, set_header, set_pieces
from proxyflow.connectors.exceptions import (
    ConnectorConnectionError,
    InvalidConfigError,
    MissingDependencyError,
)

__all__ = ["DEFAULT_PASSWORD_ENV", "RedisConnector", "redact_url"]

DEFAULT_PASSWORD_ENV = "PROXYFLOW_REDIS_PASSWORD"
"""Environment variable read for the Redis password when ``password_env`` is not given."""

_SECRET_QUERY_OPTIONS = frozenset({"password"})

ParserChoice = Literal["auto", "python", "hiredis"]


def _import_redis() -> ModuleType:
    try:
        import redis
    except ImportError as exc:
        raise MissingDependencyError(
            "the 'redis' connector needs redis-py: pip install 'proxyflow-connectors[redis]'"
        ) from exc
    return redis


def redact_url(url: str) -> str:
    """Return ``url`` without its password (in the user info or a ``password=`` query option).

    The user name is kept: it is not a secret, and a process rebuilding the
    connector needs it to authenticate as an ACL user with a password taken
    from the environment.

    Example:
        ```python
        redact_url("redis://alice:s3cret@db:6379/0")  # 'redis://alice@db:6379/0'
        ```
    """
    parts = urlsplit(url)
    userinfo, at, hostinfo = parts.netloc.rpartition("@")
    netloc = parts.netloc
    if at:
        username = userinfo.split(":", 1)[0]
        netloc = f"{username}@{hostinfo}" if username else hostinfo
    query = urlencode(
        [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True)
         if name.lower() not in _SECRET_QUERY_OPTIONS]
    )  # fmt: skip
    # Built by hand: urlunsplit drops the "//" of "unix://" URLs whose netloc is empty.
    redacted = f"{parts.scheme}://{netloc}{parts.path}"
    if query:
        redacted += f"?{query}"
    if parts.fragment:
        redacted += f"#{parts.fragment}"
    return redacted


class RedisConnector:
    """Keeps objects in a Redis server under ``prefix + key``.

    * **Lazy**: construction does no I/O; the first command connects.
    * **Bounded waits**: connecting takes at most ``connect_timeout`` seconds and
      each reply at most ``socket_timeout`` seconds; failures raise
      [`ConnectorConnectionError`][proxyflow.connectors.exceptions.ConnectorConnectionError] naming
      the URL without its password. Commands are never retried, so a
      ``GETDEL`` whose reply was lost is not run twice.
    * **One round trip** per batch: ``put_batch`` and ``get_batch(evict=True)``
      are pipelined, ``get_batch`` is one ``MGET``; ``get(evict=True)`` is one
      ``GETDEL`` (or, on Redis < 6.2, one ``MULTI``/``EXEC`` of ``MGET`` + ``DEL``).
    * **No copies of values on write**: ``put``, ``put_batch`` and
      [`put_parts`][proxyflow.connectors.redis.RedisConnector.put_parts] write the
      ``SET`` framing themselves and hand large values (``bytes``, ``bytearray``,
      memoryviews, the pieces of a pickled numpy array) to the socket as they are,
      with the same timeouts, errors and connection pool as every other command, and
      whichever reply parser (hiredis or pure Python) is in use.
    * **Thread-safe**: commands share redis-py's connection pool.
    * **No secrets in config()**: the password may come from the URL or from
      the environment variable named by ``password_env`` (by default
      ``PROXYFLOW_REDIS_PASSWORD``); [`config`][proxyflow.connectors.redis.RedisConnector.config]
      keeps only the variable's name, so another process must get the password
      from its environment.
    * RESP2 is used deliberately (redis-py's RESP3 path is slower for our use).

    It has no ``stats()``: counting keys needs an O(N) ``SCAN`` of the whole
    keyspace, and a client-side counter would be wrong as soon as another
    process writes or evicts.

    Example:
        ```python
        connector = RedisConnector("redis://127.0.0.1:6379/0", prefix="demo:")
        key = connector.put(b"hello")
        assert connector.get(key, evict=True) == b"hello"
        connector.close()
        ```

    Attributes:
        kind: ``"redis"``, its name in the ``proxyflow.connectors`` entry-point group.
    """

    kind: ClassVar[str] = "redis"

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "proxyflow:",
        socket_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        password_env: str | None = None,
        parser: ParserChoice = "auto",
    ) -> None:
        """Prepare a client for the server at ``url``; nothing connects yet.

        Args:
            url: ``redis://``, ``rediss://`` or ``unix://`` URL, optionally with
                ``user:password@``.
            prefix: Prepended to every key in Redis.
            socket_timeout: Seconds to wait for a reply.
            connect_timeout: Seconds to wait for a connection.
            password_env: Name of the environment variable holding the password
                when the URL has none; ``None`` means ``PROXYFLOW_REDIS_PASSWORD``.
            parser: Reply parser: ``"auto"`` (hiredis when installed),
                ``"python"`` (redis-py's pure-Python parser) or ``"hiredis"``.
                A local performance choice, not part of
                [`config`][proxyflow.connectors.redis.RedisConnector.config].

        Raises:
            MissingDependencyError: redis-py (or hiredis, if asked for) is missing.
            InvalidConfigError: The URL scheme or an option is invalid.
        """
        redis = _import_redis()
        if not isinstance(prefix, str):
            raise InvalidConfigError(f"redis connector prefix must be a str, not {prefix!r}")
        self._url = redact_url(url)
        self._prefix = prefix
        self._socket_timeout = float(socket_timeout)
        self._connect_timeout = float(connect_timeout)
        self._password_env = password_env
        options: dict[str, Any] = {
            "socket_timeout": self._socket_timeout,
            "socket_connect_timeout": self._connect_timeout,
            "protocol": 2,
            "retry": redis.retry.Retry(redis.backoff.NoBackoff(), 0),
        }
        password = os.environ.get(password_env or DEFAULT_PASSWORD_ENV)
        if password:
            options["password"] = password  # a password in the URL takes precedence
        parser_class = _parser_class(parser)
        if parser_class is not None:
            options["parser_class"] = parser_class
        try:
            self._pool = redis.ConnectionPool.from_url(url, **options)
        except ValueError as exc:
            raise InvalidConfigError(f"invalid Redis URL {self._url!r}: {exc}") from None
        self._client = redis.Redis(connection_pool=self._pool)
        self._redis = redis
        self._prefix_bytes: bytes = self._pool.get_encoder().encode(prefix)
        # redis-py < 5.3 requires a command name for get_connection(); later ones deprecate it.
        parameter = inspect.signature(self._pool.get_connection).parameters.get("command_name")
        needs_name = parameter is not None and parameter.default is inspect.Parameter.empty
        self._connection_args: tuple[str, ...] = ("SET",) if needs_name else ()
        self._getdel_supported = True
        self._getdel_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._url!r}, prefix={self._prefix!r})"

    @property
    def url(self) -> str:
        """The server URL, without any password."""
        return self._url

    @property
    def prefix(self) -> str:
        """The prefix of every Redis key this connector writes."""
        return self._prefix

    @contextlib.contextmanager
    def _translate_errors(self) -> Iterator[None]:
        errors = self._redis.exceptions
        try:
            yield
        except (errors.ConnectionError, errors.TimeoutError) as exc:
            raise ConnectorConnectionError(
                f"Redis server at {self._url} unreachable or not answering "
                f"(connect_timeout={self._connect_timeout}s, "
                f"socket_timeout={self._socket_timeout}s): {exc}"
            ) from exc

    def _name(self, key: str) -> bytes:
        """The Redis key of ``key``, as bytes (``key`` is checked: ASCII only)."""
        return self._prefix_bytes + check_key(key).encode("ascii")

    def _round_trip(self, pieces: Sequence[FlatBuffer], replies: int) -> list[Any]:
        """Send packed ``pieces`` on a pooled connection and read ``replies`` replies.

        Every reply is read even when one is an error reply, so the connection
        goes back to the pool clean; the first error reply is then raised. Any
        other failure closes the connection. Timeouts and connection errors are
        redis-py's (the connection's socket timeout applies) and reach the
        caller through `_translate_errors`.
        """
        pool = self._pool
        connection = pool.get_connection(*self._connection_args)
        try:
            connection.send_packed_command(pieces)
            results: list[Any] = []
            error: Exception | None = None
            response_error = self._redis.exceptions.ResponseError
            for _ in range(replies):
                try:
                    results.append(connection.read_response())
                except response_error as exc:
                    results.append(exc)
                    error = error or exc
        except BaseException:
            connection.disconnect()
            raise
        finally:
            pool.release(connection)
        if error is not None:
            raise error
        return results

    def put(self, data: bytes | bytearray | memoryview) -> str:
        """Store ``data`` under a new key with one ``SET`` and return the key.

        The value is sent as it is, without being copied into a packed command.
        """
        key = new_key()
        value = flat_buffer(data)
        name = self._prefix_bytes + key.encode("ascii")
        header = set_header(name, len(value))
        pieces = [header + value + CRLF] if len(value) < 32 * 1024 else [header, value, CRLF]
        with self._translate_errors():
            self._round_trip(pieces, 1)
        return key

    def put_parts(self, parts: Sequence[bytes | bytearray | memoryview]) -> str:
        """Store the concatenation of ``parts`` with one ``SET``, without joining them.

        Example:
            ```python
            key = connector.put_parts([b"head", memoryview(b"body")])
            assert connector.get(key) == b"headbody"
            ```
        """
        key = new_key()
        values = flat_buffers(parts)
        name = self._prefix_bytes + key.encode("ascii")
        header = set_header(name, sum(map(len, values)))
        with self._translate_errors():
            self._round_trip(coalesce([header, *values, CRLF]), 1)
        return key

    def put_batch(self, datas: Sequence[bytes | bytearray | memoryview]) -> list[str]:
        """Store several objects in one pipelined round trip; return their keys in order."""
        if not datas:
            return []
        keys = new_keys(len(datas))
        prefix = self._prefix_bytes
        names = [prefix + key.encode("ascii") for key in keys]
        with self._translate_errors():
            self._round_trip(set_pieces(names, flat_buffers(datas)), len(keys))
        return keys

    def get(self, key: str, *, evict: bool = False) -> bytes | None:
        """Return the bytes under ``key`` or ``None``; with ``evict`` also remove them.

        Raises:
            InvalidKeyError: ``key`` could not have been returned by
                [`put`][proxyflow.connectors.redis.RedisConnector.put].
            ConnectorConnectionError: The server cannot be reached.
        """
        name = self._name(key)
        if evict and not self._getdel_supported:
            return self._get_names([name], evict=True)[0]
        with self._translate_errors():
            try:
                value: bytes | None = self._round_trip(
                    [command(b"GETDEL" if evict else b"GET", name)], 1
                )[0]
                return value
            except self._redis.exceptions.ResponseError as exc:
                if not evict:
                    raise
                self._check_unknown_command(exc)
        return self._get_names([name], evict=True)[0]

    def get_batch(self, keys: Sequence[str], *, evict: bool = False) -> list[bytes | None]:
        """Return the bytes of several keys in one round trip, ``None`` for missing ones."""
        return self._get_names([self._name(key) for key in keys], evict=evict)

    def _get_names(self, names: list[bytes], *, evict: bool) -> list[bytes | None]:
        if not names:
            return []
        with self._translate_errors():
            if not evict:
                values: list[bytes | None] = self._client.execute_command("MGET", *names)
                return values
            if self._getdel_supported:
                try:
                    return self._round_trip(
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

    def exists(self, key: str) -> bool:
        """Return whether ``key`` holds an object (one ``EXISTS``)."""
        name = self._name(key)
        with self._translate_errors():
            return bool(self._client.execute_command("EXISTS", name))

    def evict(self, key: str) -> None:
        """Remove the object under ``key`` (one ``DEL``); a missing key is ignored."""
        name = self._name(key)
        with self._translate_errors():
            self._client.execute_command("DEL", name)

    def config(self) -> dict[str, Any]:
        """Return the URL without password, and the options that differ from their defaults.

        Defaults are left out so that the config, which travels in every stream
        event, stays small.
        """
        config: dict[str, Any] = {"url": self._url}
        for name, value in (
            ("prefix", self._prefix),
            ("socket_timeout", self._socket_timeout),
            ("connect_timeout", self._connect_timeout),
            ("password_env", self._password_env),
        ):
            if value != _CONFIG_DEFAULTS[name]:
                config[name] = value
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RedisConnector:
        """Build a connector from `config` output; the password comes from the environment.

        Raises:
            InvalidConfigError: ``config`` is not the output of
                [`config`][proxyflow.connectors.redis.RedisConnector.config].
        """
        check_config(
            cls.kind,
            config,
            required=("url",),
            optional=("prefix", "socket_timeout", "connect_timeout", "password_env"),
        )
        return cls(config["url"], **{k: v for k, v in config.items() if k != "url"})

    def close(self) -> None:
        """Close the pool's connections; data stays in Redis. Calling it twice is allowed."""
        self._pool.disconnect()


_CONFIG_DEFAULTS: dict[str, Any] = {
    "prefix": "proxyflow:",
    "socket_timeout": 5.0,
    "connect_timeout": 5.0,
    "password_env": None,
}
"""Constructor defaults that `RedisConnector.config` leaves out."""


def _parser_class(choice: str) -> type[Any] | None:
    """Return the redis-py parser class for ``choice`` (``None`` lets redis-py choose)."""
    if choice == "auto":
        return None
    parsers = importlib.import_module("redis._parsers")
    if choice == "python":
        python_parser: type[Any] = parsers._RESP2Parser
        return python_parser
    if choice == "hiredis":
        try:
            importlib.import_module("hiredis")
        except ImportError as exc:
            raise MissingDependencyError(
                "parser='hiredis' needs hiredis: pip install 'proxyflow-connectors[hiredis]'"
            ) from exc
        hiredis_parser: type[Any] = parsers._HiredisParser
        return hiredis_parser
    raise InvalidConfigError(f"parser must be 'auto', 'python' or 'hiredis', not {choice!r}")
