"""Fixtures of the Redis shim's tests.

``persistent_redis`` is a private redis-server with an append-only file,
which a test may kill and restart: proxyflow-testing's ``RedisServer`` keeps
nothing on disk, and the fault tests of the Streams shim need a server whose
data survives a ``SIGKILL``. It runs with ``appendonly yes`` and
``appendfsync always`` in a temporary directory, on one loopback port for its
whole life, and is killed and restarted only by its own process id.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator

import pytest

from proxyflow.testing.redis_server import find_redis_server


@pytest.fixture
def prefix() -> str:
    """A key prefix of its own for each test, so lists never leak between tests."""
    return f"proxyflow-test:{uuid.uuid4().hex}:"


@pytest.fixture
def persistent_redis() -> Iterator[PersistentRedis]:
    """A private redis-server with an append-only file; the test may kill and restart it."""
    if find_redis_server() is None:
        pytest.skip("no redis-server available")
    server = PersistentRedis().start()
    try:
        yield server
    finally:
        server.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PersistentRedis:
    """``redis-server --appendonly yes`` on a free port; ``kill()`` is a crash."""

    def __init__(self) -> None:
        binary = find_redis_server()
        if binary is None:
            raise RuntimeError("no redis-server on PATH")
        self._binary = binary
        self._dir = tempfile.TemporaryDirectory(prefix="proxyflow-aof-")
        self.port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """The running server's process id."""
        return None if self._process is None else self._process.pid

    def start(self) -> PersistentRedis:
        """Start the server (loading its append-only file) and wait until it answers."""
        args = [
            self._binary, "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", self._dir.name, "--save", "", "--appendonly", "yes",
            "--appendfsync", "always", "--loglevel", "warning",
        ]  # fmt: skip
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self._process.returncode}")
            if self._answers():
                return self
            time.sleep(0.02)  # polling the server's start-up, not synchronising threads
        raise RuntimeError("redis-server did not answer within 20 s")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """Kill the server with ``SIGKILL``, by its process id, and reap it."""
        if self._process is not None:
            os.kill(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=10)
            self._process = None

    def restart(self) -> PersistentRedis:
        """Start the server again on the same port and directory."""
        return self.start()

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=10)
            self._process = None
        self._dir.cleanup()
