"""pytest plugin shipped by proxyflow-testing (auto-loaded through ``pytest11``).

Fixtures:
    redis_url: session-scoped URL of a real Redis server. ``PROXYFLOW_REDIS_URL``
        when set, else a private ``redis-server`` started for the session. Tests
        that use it are skipped only if neither is possible *and*
        ``PROXYFLOW_REQUIRE_REDIS`` is unset; CI sets it so that a missing server fails.
    nats_url: session-scoped URL of a real NATS server with JetStream.
        ``PROXYFLOW_NATS_URL`` when set, else a private ``nats-server -js``
        started for the session with its store in a temporary directory. Skipped
        when neither is possible unless ``PROXYFLOW_REQUIRE_NATS`` is set.
    nats_server: a private [`NatsServer`][proxyflow.testing.nats_server.NatsServer]
        for one test, which the test may kill, pause and restart; stopped (and
        its store removed) at teardown. Never the server of ``PROXYFLOW_NATS_URL``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from proxyflow.testing.nats_server import (
    NatsServer,
    NatsServerUnavailableError,
    nats_url_from_env,
)
from proxyflow.testing.redis_server import (
    RedisServer,
    RedisServerUnavailableError,
    redis_url_from_env,
)

REQUIRE_NATS_ENV = "PROXYFLOW_REQUIRE_NATS"


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


def _start_nats_server() -> NatsServer:
    server = NatsServer()
    try:
        return server.start()
    except NatsServerUnavailableError as exc:
        if os.environ.get(REQUIRE_NATS_ENV):
            raise
        pytest.skip(f"no NATS server available: {exc}")


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """URL of a real NATS server with JetStream for this test session."""
    url = nats_url_from_env()
    if url is not None:
        yield url
        return
    server = _start_nats_server()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    """A private NATS server with JetStream that this test may kill and restart."""
    server = _start_nats_server()
    try:
        yield server
    finally:
        server.stop()
