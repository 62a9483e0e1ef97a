"""Fixtures of the integration suite: connectors and broker shims, each on unique names.

The helpers of the suite live in the ``pfit`` package next to this file; its
folder is put on ``sys.path`` so that spawned processes can import them.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from pfit.backends import BrokerSpec, ConnectorSpec, new_channel

TRUST_FIXTURES = frozenset({"redis_url", "connector_spec", "broker_spec"})
"""Fixtures whose tests may put objects in the session's Redis server."""


@pytest.fixture(autouse=True)
def _trusted_locations(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Consumers in other processes trust this session's stores: the documented setting.

    A consumer trusts the stores of producers in its own process; one in
    another process is told through ``PROXYFLOW_TRUSTED_LOCATIONS`` (which
    spawned processes inherit): the session's temporary directories and, for
    tests that may use it, the Redis server. The trust tests clear it, and so
    do the documentation's snippets, which must show every setting they need.
    """
    if "docs" in request.node.path.parent.parts[-1:]:
        monkeypatch.delenv("PROXYFLOW_TRUSTED_LOCATIONS", raising=False)
        return
    entries = [f"file:{tmp_path_factory.getbasetemp()}"]
    if TRUST_FIXTURES & set(request.fixturenames):
        entries.append(request.getfixturevalue("redis_url"))
    monkeypatch.setenv("PROXYFLOW_TRUSTED_LOCATIONS", ", ".join(entries))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def connector_spec(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[[str], ConnectorSpec]:
    """Factory: ``connector_spec(kind)`` for ``local``, ``file`` (in tmp_path) or ``redis``."""

    def make(kind: str) -> ConnectorSpec:
        if kind == "local":
            return ConnectorSpec("local")
        if kind == "file":
            return ConnectorSpec("file", str(tmp_path / unique("store")))
        url = request.getfixturevalue("redis_url")
        return ConnectorSpec("redis", url, prefix=unique("it") + ":")

    return make


@pytest.fixture
def broker_spec(request: pytest.FixtureRequest) -> Callable[..., BrokerSpec]:
    """Factory: ``broker_spec(kind, process=False)`` on a unique topic.

    ``queue`` uses a ``queue.Queue`` for threads or a spawn-context queue for
    processes; ``redis`` and ``redis-queue`` use the session's Redis server;
    ``zmq`` binds a random loopback port in the producer.
    """

    def make(kind: str, *, process: bool = False) -> BrokerSpec:
        topic = unique("topic")
        if kind == "queue":
            from pfit.harness import SPAWN

            return BrokerSpec("queue", topic, channel=new_channel(SPAWN if process else None))
        if kind in ("redis", "redis-queue"):
            return BrokerSpec(kind, topic, url=request.getfixturevalue("redis_url"))
        return BrokerSpec("zmq", topic)

    return make


@pytest.fixture
def verify_connector() -> Iterator[Callable[[ConnectorSpec], Any]]:
    """Factory: a connector of the test process on the same storage, closed afterwards."""
    made: list[Any] = []

    def make(spec: ConnectorSpec) -> Any:
        connector = spec.build()
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.close()
