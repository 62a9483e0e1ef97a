"""pytest plugin shipped by proxyflow-testing (auto-loaded through ``pytest11``).

Fixtures:
    redis_url: session-scoped URL of a real Redis server. ``PROXYFLOW_REDIS_URL``
        when set, else a private ``redis-server`` started for the session. Tests
        that use it are skipped only if neither is possible *and*
        ``PROXYFLOW_REQUIRE_REDIS`` is unset; CI sets it so that a missing server fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from proxyflow.testing.redis_server import (
    RedisServer,
    RedisServerUnavailableError,
    redis_url_from_env,
)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a real Redis server for this test session."""
    url = redis_url_from_env()
    if url is not None:
        yield url
        return
    server = RedisServer()
    try:
        server.start()
    except RedisServerUnavailableError as exc:
        if os.environ.get("PROXYFLOW_REQUIRE_REDIS"):
            raise
        pytest.skip(f"no Redis available: {exc}")
    try:
        yield server.url
    finally:
        server.stop()
