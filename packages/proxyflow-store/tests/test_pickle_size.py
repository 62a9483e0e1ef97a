"""Proxies of large objects must pickle to a few hundred bytes at most."""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from collections.abc import Iterator

import pytest

from proxyflow.proxy import extract, is_resolved
from proxyflow.store import Store, unregister_store

MAX_PROXY_PICKLE = 200


@pytest.fixture
def big_array() -> object:
    np = pytest.importorskip("numpy")
    return np.ones(100 * 1024 * 1024 // 8)  # 100 MiB of float64


@pytest.fixture
def file_store() -> Iterator[Store]:
    from proxyflow.connectors.file import FileConnector

    # a short directory such as a deployment would use (pytest's tmp_path is long)
    path = tempfile.mkdtemp(prefix="pf", dir="/tmp" if os.path.isdir("/tmp") else None)
    store = Store("data", FileConnector(path))
    try:
        yield store
    finally:
        store.close()
        unregister_store("data")
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def redis_store(redis_url: str) -> Iterator[Store]:
    from proxyflow.connectors.redis import RedisConnector

    store = Store("data", RedisConnector(redis_url))
    yield store
    store.close()
    unregister_store("data")


def _check(store: Store, big_array: object) -> int:
    np = pytest.importorskip("numpy")
    p = store.proxy(big_array, evict=True)
    size = len(pickle.dumps(p))
    assert len(pickle.dumps(p, protocol=5)) == size
    clone = pickle.loads(pickle.dumps(p))
    assert type(clone).__name__ == "Proxy"
    assert not is_resolved(clone)
    assert isinstance(clone, np.ndarray)
    assert not is_resolved(clone)
    assert extract(clone).nbytes == 100 * 1024 * 1024
    return size


def test_file_store_proxy_pickle_is_small(file_store: Store, big_array: object) -> None:
    size = _check(file_store, big_array)
    print(f"file store proxy pickle: {size} bytes ({file_store.config().options})")
    assert size <= MAX_PROXY_PICKLE


def test_redis_store_proxy_pickle_is_small(redis_store: Store, big_array: object) -> None:
    size = _check(redis_store, big_array)
    print(f"redis store proxy pickle: {size} bytes ({redis_store.config().options})")
    assert size <= MAX_PROXY_PICKLE
