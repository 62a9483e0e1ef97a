"""A connector that keeps objects in a Redis server, through redis-py.

This module holds the connector's public face (options, keys, the commands of
each method, ``config()``); the connection pool, round trips, all-or-nothing
writes and error translation under it live in ``_redis_plumbing.py``.

redis-py is an optional dependency: ``pip install 'proxyflow-connectors[redis]'``
(add ``[hiredis]`` for the faster C reply parser; it is never required).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from proxyflow.api.buffers import flat_buffer, flat_buffers
from proxyflow.api.protocols import BytesLike
from proxyflow.connectors._config import check_config
from proxyflow.connectors._keys import new_key, new_keys
from proxyflow.connectors._redis_client import ParserChoice, server_url
from proxyflow.connectors._redis_plumbing import DEFAULT_PASSWORD_ENV, RedisPlumbing
from proxyflow.connectors._resp import CRLF, coalesce, command, set_header, set_pieces
from proxyflow.connectors.exceptions import ConnectorError, InvalidConfigError

__all__ = ["DEFAULT_PASSWORD_ENV", "RedisConnector"]


class RedisConnector(RedisPlumbing):
    """Keeps objects in a Redis server under ``prefix + key``.

    * **Lazy**: construction does no I/O; the first command connects.
    * **Bounded waits**: connecting takes at most ``connect_timeout`` seconds and
      each reply at most ``socket_timeout`` seconds. Commands are never
      retried, so a ``GETDEL`` whose reply was lost is not run twice.
    * **Typed errors**: every failure is a
      [`ConnectorError`][proxyflow.connectors.exceptions.ConnectorError] that
      also derives from the matching ``proxyflow.api`` class, with a message
      that says what to do: unreachable server
      ([`ConnectorConnectionError`][proxyflow.connectors.exceptions.ConnectorConnectionError]),
      no answer in time
      ([`ConnectorTimeoutError`][proxyflow.connectors.exceptions.ConnectorTimeoutError]),
      missing or refused password, or an ACL denial
      ([`ConnectorAuthenticationError`][proxyflow.connectors.exceptions.ConnectorAuthenticationError],
      naming the URL and the password variable), ``maxmemory`` reached
      ([`ConnectorFullError`][proxyflow.connectors.exceptions.ConnectorFullError]),
      a value over ``proto-max-bulk-len``
      ([`ConnectorObjectTooLargeError`][proxyflow.connectors.exceptions.ConnectorObjectTooLargeError]),
      a missing database, a replica, a cluster node or a server that is not
      Redis ([`ConnectorProtocolError`][proxyflow.connectors.exceptions.ConnectorProtocolError]).
      No redis-py error escapes.
    * **All or nothing**: when ``put``, ``put_parts`` or ``put_batch`` fails, the
      keys it wrote are deleted again (one ``DEL``); if that fails too (the
      server is gone), the error lists them in ``leftover_keys``. After a
      timeout the removal is best effort: a write the server had not yet
      processed may still land.
    * **One round trip** per batch: ``put_batch`` and ``get_batch(evict=True)``
      are pipelined, ``get_batch`` is one ``MGET``; ``get(evict=True)`` is one
      ``GETDEL`` (or, on Redis < 6.2, one ``MULTI``/``EXEC`` of ``MGET`` + ``DEL``).
    * **No copies of values on write**: ``put``, ``put_batch`` and
      [`put_parts`][proxyflow.connectors.redis.RedisConnector.put_parts] write the
      ``SET`` framing themselves and hand large values (``bytes``, ``bytearray``,
      memoryviews, the pieces of a pickled numpy array) to the socket as they are,
      with the same timeouts, errors and connection pool as every other command, and
      whichever reply parser (hiredis or pure Python) is in use. Reads return ``bytes``.
    * **Thread-safe**: commands share redis-py's connection pool.
    * **asyncio reads**: [`get_async`][proxyflow.connectors.redis.RedisConnector.get_async]
      reads on the running event loop (``redis.asyncio``, one client per loop), with
      the same commands, settings and typed errors as ``get``.
    * **No secrets in config()**: the password may come from the URL or from
      the environment variable named by ``password_env`` (by default
      ``PROXYFLOW_REDIS_PASSWORD``); [`config`][proxyflow.connectors.redis.RedisConnector.config]
      keeps only the variable's name, so another process must get the password
      from its environment.
    * RESP2 is used deliberately (redis-py's RESP3 path is slower for our use).

    ``config()`` holds two kinds of options. The **location**
    ([`location_options`][proxyflow.connectors.redis.RedisConnector.location_options]:
    ``url`` (host, port and database, or a unix socket path) and ``prefix``)
    says which data is read and deleted; the **client settings**
    ([`client_options`][proxyflow.connectors.redis.RedisConnector.client_options]:
    ``socket_timeout``, ``connect_timeout`` and ``password_env``, which names
    where a credential comes from) only tune this process's client. A consumer
    that rebuilds connectors from events should take the location from the
    event only after checking it, and the client settings from its own
    configuration. Query options of the URL other than ``db`` are client
    settings of redis-py (TLS options, for instance) and travel with the URL.

    For code written for ProxyStore, ``RedisConnector(hostname, port)`` is
    ``RedisConnector("redis://hostname:port/0")``; ``clear=True`` (``FLUSHDB``
    on close, which deletes every key of the database, other programs' too)
    is refused with an error naming the change.

    It has no ``stats()``: counting keys needs an O(N) ``SCAN`` of the whole
    keyspace, and a client-side counter would be wrong as soon as another
    process writes or evicts.

    Example:
        ```python
        with RedisConnector("redis://127.0.0.1:6379/0", prefix="demo:") as connector:
            key = connector.put(b"hello")
            assert connector.get(key, evict=True) == b"hello"
        ```

    Attributes:
        kind: ``"redis"``, its name in the ``proxyflow.connectors`` entry-point group.
    """

    kind: ClassVar[str] = "redis"
    location_options: ClassVar[frozenset[str]] = frozenset({"url", "prefix"})
    """Options of ``config()`` that name where the data lives (the server, database, prefix)."""
    client_options: ClassVar[frozenset[str]] = frozenset(
        {"socket_timeout", "connect_timeout", "password_env"}
    )
    """Options of ``config()`` that only tune this process's client (timeouts, credentials)."""

    def __init__(
        self,
        url: str | None = None,
        port: int | None = None,
        *,
        hostname: str | None = None,
        clear: bool | None = None,
        prefix: str = "proxyflow:",
        socket_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        password_env: str | None = None,
        parser: ParserChoice = "auto",
    ) -> None:
        """Prepare a client for the server at ``url``; nothing connects yet.

        Args:
            url: ``redis://``, ``rediss://`` or ``unix://`` URL, optionally with
                ``user:password@``; by default ``redis://127.0.0.1:6379/0``. With
                ``port``, a host name instead (ProxyStore's form).
            port: The port, for ProxyStore's ``RedisConnector(hostname, port)``.
            hostname: The host, for ProxyStore's ``RedisConnector(hostname=..., port=...)``.
            clear: Accepted for ProxyStore code: ``False`` (keep the data on
                close) is what proxyflow always does; ``True`` is refused.
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
            InvalidConfigError: The URL, an option or ``clear=True`` is invalid.
        """
        if clear:
            raise InvalidConfigError(
                "RedisConnector(clear=True) is ProxyStore's 'FLUSHDB on close', which deletes "
                "every key of the database, other programs' included; proxyflow does not copy "
                "it. Drop clear=; objects are deleted when read with evict=True, and a prefix= "
                "of your own lets you delete the rest with SCAN + DEL"
            )
        if not isinstance(prefix, str):
            raise InvalidConfigError(f"redis connector prefix must be a str, not {prefix!r}")
        super().__init__(
            server_url(url, port, hostname),
            prefix=prefix,
            socket_timeout=socket_timeout,
            connect_timeout=connect_timeout,
            password_env=password_env,
            parser=parser,
        )

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

    @property
    def hostname(self) -> str | None:
        """The server's host name (``None`` for a unix socket), as in ProxyStore."""
        host = self._pool.connection_kwargs.get("host")
        return None if host is None else str(host)

    @property
    def port(self) -> int | None:
        """The server's port (``None`` for a unix socket), as in ProxyStore."""
        port = self._pool.connection_kwargs.get("port")
        return None if port is None or "path" in self._pool.connection_kwargs else int(port)

    # -- writing ----------------------------------------------------------------------------

    def put(self, data: BytesLike) -> str:
        """Store ``data`` under a new key with one ``SET`` and return the key.

        The value is sent as it is, without being copied into a packed command.

        Raises:
            ConnectorFullError: The server is at ``maxmemory`` (nothing is kept).
            ConnectorObjectTooLargeError: ``data`` is over the server's ``proto-max-bulk-len``.
            ConnectorError: Another failure, typed (see the class docstring).
        """
        key = new_key()
        value = flat_buffer(data)
        size = len(value)
        header = set_header(self._prefix_bytes + key.encode("ascii"), size)
        pieces = [header + value + CRLF] if size < 32 * 1024 else [header, value, CRLF]
        self._write([key], pieces, [size])
        return key

    def put_parts(self, parts: Sequence[BytesLike]) -> str:
        """Store the concatenation of ``parts`` with one ``SET``, without joining them.

        Example:
            ```python
            key = connector.put_parts([b"head", memoryview(b"body")])
            assert connector.get(key) == b"headbody"
            ```
        """
        key = new_key()
        values = flat_buffers(parts)
        size = sum(map(len, values))
        header = set_header(self._prefix_bytes + key.encode("ascii"), size)
        self._write([key], coalesce([header, *values, CRLF]), [size])
        return key

    def put_batch(self, datas: Sequence[BytesLike]) -> list[str]:
        """Store several objects in one pipelined round trip; return their keys in order.

        All or nothing: if any ``SET`` fails (``maxmemory`` reached part way,
        say), the keys of the batch that were written are deleted again before
        the error propagates.
        """
        if not datas:
            return []
        keys = new_keys(len(datas))
        values = flat_buffers(datas)
        names = [self._prefix_bytes + key.encode("ascii") for key in keys]
        self._write(keys, set_pieces(names, values), [len(value) for value in values])
        return keys

    # -- reading ----------------------------------------------------------------------------

    def get(self, key: str, *, evict: bool = False) -> bytes | None:
        """Return the bytes under ``key`` or ``None``; with ``evict`` also remove them.

        Raises:
            InvalidKeyError: ``key`` could not have been returned by
                [`put`][proxyflow.connectors.redis.RedisConnector.put].
            ConnectorError: The server cannot be reached, or another failure, typed.
        """
        name = self._name(key)
        if evict and not self._getdel_supported:
            return self._get_names([name], evict=True)[0]
        with self._translate_errors():
            try:
                value: bytes | None = self._checked_round_trip(
                    [command(b"GETDEL" if evict else b"GET", name)], 1
                )[0]
                return value
            except self._redis.exceptions.ResponseError as exc:
                if not evict:
                    raise
                self._check_unknown_command(exc)
        return self._get_names([name], evict=True)[0]

    async def get_async(self, key: str, *, evict: bool = False) -> bytes | None:
        """Like [`get`][proxyflow.connectors.redis.RedisConnector.get], on the running event loop.

        The same command (``GET``, or ``GETDEL`` with its ``MULTI``/``EXEC``
        fallback), timeouts, credentials and typed errors as ``get``, through a
        ``redis.asyncio`` client of the running loop (one per loop, made on
        first use; see [`close`][proxyflow.connectors.redis.RedisConnector.close]).
        This makes the connector an
        [`AsyncReadableConnector`][proxyflow.api.connector_protocols.AsyncReadableConnector].

        Raises:
            InvalidKeyError: ``key`` could not have been returned by ``put``.
            ConnectorError: The server cannot be reached, or another failure, typed.
            RuntimeError: No event loop runs in this thread.
        """
        name = self._name(key)
        errors = self._redis.exceptions
        try:
            if not evict:
                return await self._async.round_trip(command(b"GET", name))  # type: ignore[no-any-return]
            if self._getdel_supported:
                try:
                    return await self._async.round_trip(command(b"GETDEL", name))  # type: ignore[no-any-return]
                except errors.ResponseError as exc:
                    self._check_unknown_command(exc)
            async with self._async.client().pipeline(transaction=True) as pipe:
                pipe.execute_command("MGET", name)
                pipe.execute_command("DEL", name)
                got, _deleted = await pipe.execute()
            return got[0]  # type: ignore[no-any-return]
        except ConnectorError:
            raise
        except (errors.RedisError, OSError) as exc:
            raise self._error(exc) from exc

    def get_batch(self, keys: Sequence[str], *, evict: bool = False) -> list[bytes | None]:
        """Return the bytes of several keys in one round trip, ``None`` for missing ones."""
        return self._get_names([self._name(key) for key in keys], evict=evict)

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

    # -- configuration ----------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """Return the URL without password, and the options that differ from their defaults.

        Defaults are left out so that the config, which travels in every stream
        event, stays small. ``url`` and ``prefix`` are the location
        ([`location_options`][proxyflow.connectors.redis.RedisConnector.location_options]);
        the others are client settings
        ([`client_options`][proxyflow.connectors.redis.RedisConnector.client_options]).
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
            types={
                "url": (str,),
                "prefix": (str,),
                "socket_timeout": (int, float),
                "connect_timeout": (int, float),
                "password_env": (str, type(None)),
            },
        )
        return cls(config["url"], **{k: v for k, v in config.items() if k != "url"})

    def close(self) -> None:
        """Close the pool's connections; data stays in Redis. Calling it twice is allowed.

        The asyncio clients made by
        [`get_async`][proxyflow.connectors.redis.RedisConnector.get_async] are
        closed without waiting: on the running loop of this thread by a task it
        starts, on a loop running in another thread by a close scheduled there.
        The client of a loop that is not running is dropped (``asyncio.run``
        closes each client itself before its loop ends). A later ``get_async``
        makes a new client.
        """
        self._pool.disconnect()
        self._async.close()


_CONFIG_DEFAULTS: dict[str, Any] = {
    "prefix": "proxyflow:",
    "socket_timeout": 5.0,
    "connect_timeout": 5.0,
    "password_env": None,
}
"""Constructor defaults that `RedisConnector.config` leaves out."""
