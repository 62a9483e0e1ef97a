from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxyflow.connectors.file import FileConnector
from proxyflow.proxy import Proxy, ProxyResolveError, get_factory, is_resolved
from proxyflow.store import (
    ObjectMissingError,
    Store,
    StoreConfig,
    StoreConfigError,
    StoreFactory,
    unregister_store,
)
from proxyflow.store.factory import _sp


@pytest.fixture
def file_store(tmp_path: Path, store_name: str) -> Iterator[Store]:
    store = Store(store_name, FileConnector(str(tmp_path / "objects")))
    yield store
    store.close()
    unregister_store(store_name)


def test_factory_pickle_round_trip_and_equality(file_store: Store) -> None:
    key = file_store.put([1, 2])
    factory = StoreFactory(key, file_store.config(), evict=True, target_type=list)
    clone = pickle.loads(pickle.dumps(factory))
    assert clone == factory
    assert clone.evict is True
    assert clone.target_type is list
    assert clone.config == file_store.config()
    path_len = len(file_store.config().options["store_dir"])
    assert len(pickle.dumps(factory)) - path_len < 150  # pytest's tmp_path is long
    assert "StoreFactory(" in repr(factory)


def test_unpickled_factories_share_their_config(file_store: Store) -> None:
    proxies = [file_store.proxy(i) for i in range(3)]
    clones = pickle.loads(pickle.dumps(proxies))
    configs = {id(get_factory(c).config) for c in clones}  # type: ignore[attr-defined]
    assert len(configs) == 1
    assert not any(is_resolved(c) for c in clones)


def test_non_default_config_fields_survive_pickling(tmp_path: Path, store_name: str) -> None:
    store = Store(store_name, FileConnector(str(tmp_path)), cache_size=3)
    p = store.proxy({"a": 1}, evict=False)
    clone = pickle.loads(pickle.dumps(p))
    assert get_factory(clone).config.cache_size == 3  # type: ignore[attr-defined]
    store.close()


def test_corrupt_wire_config_is_a_config_error() -> None:
    with pytest.raises(StoreConfigError):
        _sp("k", "not json")
    with pytest.raises(StoreConfigError):
        _sp("k", '{"a": 1}')


def test_factory_raises_object_missing(file_store: Store) -> None:
    key = file_store.put("x")
    file_store.evict(key)
    factory = StoreFactory(key, file_store.config())
    with pytest.raises(ObjectMissingError) as info:
        factory()
    assert info.value.key == key
    assert info.value.store_name == file_store.name
    with pytest.raises(ProxyResolveError):
        len(Proxy(factory))


def test_proxy_resolves_in_another_process(file_store: Store) -> None:
    np = pytest.importorskip("numpy")
    p = file_store.proxy(np.arange(1000), evict=True)
    blob = pickle.dumps(p)
    code = textwrap.dedent(
        """
        import pickle, sys
        from proxyflow.proxy import extract, is_resolved
        p = pickle.loads(sys.stdin.buffer.read())
        import numpy
        assert isinstance(p, numpy.ndarray) and not is_resolved(p)
        print(int(extract(p).sum()))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=blob, capture_output=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode().strip() == str(sum(range(1000)))
    key = get_factory(p).key  # type: ignore[attr-defined]
    assert not file_store.exists(key)  # evicted by the other process


def test_store_config_equality_is_used_for_factories() -> None:
    a = StoreFactory("k", StoreConfig("s", "file", {"store_dir": "/x"}))
    b = StoreFactory("k", StoreConfig("s", "file", {"store_dir": "/x"}))
    assert a == b
    assert hash(a) == hash(b)
    assert a != StoreFactory("k", StoreConfig("s", "file", {"store_dir": "/y"}))
