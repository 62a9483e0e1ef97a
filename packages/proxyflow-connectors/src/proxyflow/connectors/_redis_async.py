"""The Redis connector's asyncio clients: one ``redis.asyncio`` client per running loop.

A ``redis.asyncio`` connection belongs to the event loop it was opened on, so
[`AsyncClients`][proxyflow.connectors._redis_async.AsyncClients] keeps one
client per loop (in a ``WeakKeyDictionary``: a loop that is gone takes its
entry with it), made lazily on the first read from that loop with the same
URL, credentials, database, TLS options and timeouts as the connector's
synchronous pool, and no retries. A loop's client opens at most
`ASYNC_MAX_CONNECTIONS` connections; further concurrent reads (a large
``asyncio.gather``) wait for a free one, for at most ``connect_timeout +
socket_timeout`` seconds each.

Closing: each client's connections are closed on their own loop. When a loop
ends through ``asyncio.run`` (or anything that calls
``loop.shutdown_asyncgens()``), a small async generator registered on that
loop closes its client before the loop closes, so no "unclosed connection"
warning is left behind. ``close()`` of the connector closes the clients of
loops that are running (on this thread at once, on another thread by
scheduling the close there, without waiting); the client of a loop that is
stopped but not closed is dropped, and its sockets close with the loop's
transports. Nothing here is pickled, and a forked child never uses its
parent's clients (they are keyed by process id too).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import threading
import weakref
from collections.abc import AsyncGenerator
from typing import Any, NamedTuple

from proxyflow.connectors._redis_client import async_parser_class

__all__ = ["ASYNC_MAX_CONNECTIONS", "AsyncClients"]

ASYNC_MAX_CONNECTIONS = 8
"""Connections of one loop's client; more concurrent reads wait for a free one."""


class _LoopClient(NamedTuple):
    """The client of one loop, the process it was made in, and its closing hook."""

    client: Any
    """A ``redis.asyncio.Redis`` on its own connection pool."""
    pid: int
    """The process the client was made in (a forked child makes its own)."""
    closer: AsyncGenerator[None, None]
    """Started on the loop; ``shutdown_asyncgens()`` closing it closes the client."""


class AsyncClients:
    """One ``redis.asyncio`` client per event loop, made lazily, for one connector.

    Args:
        redis: The ``redis`` module.
        url: The server URL as given to the connector (it may hold the password).
        options: The connection options of the synchronous pool, without the
            sync-only ``retry`` and ``parser_class``.
        parser: The connector's parser choice (``"auto"``, ``"python"``, ``"hiredis"``).
    """

    def __init__(self, redis: Any, url: str, options: dict[str, Any], parser: str) -> None:
        self._redis = redis
        self._url = url
        self._options = dict(options)
        chosen = async_parser_class(parser)
        if chosen is not None:
            self._options["parser_class"] = chosen
        # Bounded, as every other wait: a connection frees up within one command's time.
        self._wait_for_connection = float(
            options["socket_connect_timeout"] + options["socket_timeout"]
        )
        self._lock = threading.Lock()
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient] = (
            weakref.WeakKeyDictionary()
        )
        self._closing: set[asyncio.Future[Any]] = set()

    def client(self) -> Any:
        """Return the client of the running loop, making it on first use (no I/O).

        Raises:
            RuntimeError: If no event loop runs in this thread.
        """
        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is not None and entry.pid == os.getpid():
            return entry.client
        asyncio_redis = importlib.import_module("redis.asyncio")
        retry = asyncio_redis.retry.Retry(self._redis.backoff.NoBackoff(), 0)
        pool = asyncio_redis.BlockingConnectionPool.from_url(
            self._url,
            retry=retry,
            max_connections=ASYNC_MAX_CONNECTIONS,
            timeout=self._wait_for_connection,
            **self._options,
        )
        client = asyncio_redis.Redis(connection_pool=pool)
        closer = _close_at_shutdown(pool)
        # Its first step (to the yield, no I/O) registers it with shutdown_asyncgens().
        with contextlib.suppress(StopIteration):
            closer.asend(None).send(None)
        with self._lock:
            self._clients[loop] = _LoopClient(client, os.getpid(), closer)
        return client

    async def round_trip(self, packed: bytes) -> Any:
        """Send one packed command on a connection of this loop's pool; return its reply.

        Cheaper than ``client.execute_command`` (no per-command wrappers), with
        the same timeouts. An error reply is raised (redis-py's exception) and
        leaves the connection clean; any other failure, or a cancellation while
        the reply is awaited, disconnects it, so no reply is ever read by the
        wrong command.
        """
        pool = self.client().connection_pool
        connection = await pool.get_connection()
        try:
            await connection.send_packed_command(packed, check_health=False)
            return await connection.read_response()
        except self._redis.exceptions.ResponseError:
            raise
        except BaseException:
            await connection.disconnect()
            raise
        finally:
            await pool.release(connection)

    def close(self) -> None:
        """Close the clients of running loops, without waiting; forget every client."""
        with self._lock:
            entries = list(self._clients.items())
            self._clients.clear()
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for loop, entry in entries:
            if entry.pid != os.getpid() or loop.is_closed() or not loop.is_running():
                continue
            pool = entry.client.connection_pool
            if loop is current:
                task = loop.create_task(pool.disconnect())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
            else:
                asyncio.run_coroutine_threadsafe(pool.disconnect(), loop)


async def _close_at_shutdown(pool: Any) -> AsyncGenerator[None, None]:
    """Yield once; when the loop shuts its async generators down, close ``pool``."""
    try:
        yield
    finally:
        await pool.disconnect()
