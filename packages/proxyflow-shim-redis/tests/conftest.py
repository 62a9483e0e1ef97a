"""Fixtures of the Redis shim's tests.

``persistent_redis`` is a private redis-server with an append-only file,
which a test may kill and restart: the fault tests of the Streams shim need a
server whose data survives a ``SIGKILL``. It is proxyflow-testing's
``RedisServer(persistent=True)`` (``appendonly yes``, ``appendfsync always``
in a temporary directory, one loopback port for its whole life, killed and
restarted only by its own process id).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from proxyflow.testing.redis_server import RedisServer, find_redis_server


@pytest.fixture
def prefix() -> str:
    """A key prefix of its own for each test, so lists never leak between tests."""
    return f"proxyflow-test:{uuid.uuid4().hex}:"


@pytest.fixture
def persistent_redis() -> Iterator[RedisServer]:
    """A private redis-server with an append-only file; the test may kill and restart it."""
    if find_redis_server() is None:
        pytest.skip("no redis-server available")
    server = RedisServer(persistent=True, start_timeout=20.0).start()
    try:
        yield server
    finally:
        server.stop()
