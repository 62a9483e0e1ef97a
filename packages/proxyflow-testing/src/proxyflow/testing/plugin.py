"""pytest plugin shipped by proxyflow-testing (auto-loaded through ``pytest11``).

Fixtures:
    redis_url: session-scoped URL of a real Redis server. ``PROXYFLOW_REDIS_URL``
        when set, else a private ``redis-server`` started for the session. Tests
        that use it are skipped only if neither is possible *and*
        ``PROXYFLOW_REQUIRE_REDIS`` is unset; CI sets it so that a missing server fails.
    redis_server: a private, persistent
        [`RedisServer`][proxyflow.testing.redis_server.RedisServer] for one test
        (append-only file synced on every write), which the test may kill,
        pause and restart without losing what it acknowledged; stopped (and its
        files removed) at teardown. Never the server of ``PROXYFLOW_REDIS_URL``.
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
from typing import TypeVar

import pytest

from proxyflow.testing._server_process import ServerProcess
from proxyflow.testing.nats_server import NatsServer, nats_url_from_env
from proxyflow.testing.redis_server import RedisServer, redis_url_from_env

REQUIRE_NATS_ENV = "PROXYFLOW_REQUIRE_NATS"
REQUIRE_REDIS_ENV = "PROXYFLOW_REQUIRE_REDIS"

_P = TypeVar("_P", bound=ServerProcess)


def _start_or_skip(server: _P, require_env: str, what: str) -> _P:
    """Start ``server``; if it cannot start, skip the test unless ``require_env`` is set."""
    try:
        return server.start()
    except server.unavailable_error as exc:
        if os.environ.get(require_env):
            raise
        pytest.skip(f"no {what} available: {exc}")


def _session_url(
    url: str | None, server: ServerProcess, require_env: str, what: str
) -> Iterator[str]:
    """Yield ``url`` if given, else the URL of ``server`` started for the session."""
    if url is not None:
        yield url
        return
    _start_or_skip(server, require_env, what)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a real Redis server for this test session."""
    yield from _session_url(redis_url_from_env(), RedisServer(), REQUIRE_REDIS_ENV, "Redis")


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A private, persistent Redis server that this test may kill, pause and restart."""
    server = _start_or_skip(RedisServer(persistent=True), REQUIRE_REDIS_ENV, "Redis")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """URL of a real NATS server with JetStream for this test session."""
    yield from _session_url(nats_url_from_env(), NatsServer(), REQUIRE_NATS_ENV, "NATS server")


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    """A private NATS server with JetStream that this test may kill and restart."""
    server = _start_or_skip(NatsServer(), REQUIRE_NATS_ENV, "NATS server")
    try:
        yield server
    finally:
        server.stop()
