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
