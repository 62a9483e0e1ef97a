from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator

import pytest

from proxyflow.connectors.local import LocalConnector
from proxyflow.store import Store, unregister_store

_names = itertools.count()


@pytest.fixture
def store_name() -> str:
    return f"test-store-{next(_names)}"


@pytest.fixture
def store(store_name: str) -> Iterator[Store]:
    s = Store(store_name, LocalConnector(), metrics=True)
    try:
        yield s
    finally:
        s.close()
        unregister_store(store_name)


@pytest.fixture
def redis_store(redis_url: str) -> Iterator[Store]:
    """A store on the test's Redis server, under a prefix of its own."""
    pytest.importorskip("redis")
    from proxyflow.connectors.redis import RedisConnector

    name = f"redis-store-{uuid.uuid4().hex[:8]}"
    s = Store(name, RedisConnector(redis_url, prefix=f"{name}:"))
    try:
        yield s
    finally:
        s.close()
        unregister_store(name)
