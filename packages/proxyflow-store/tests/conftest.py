from __future__ import annotations

import itertools
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
