"""Store and proxy code written for ProxyStore 1.1.0 runs on proxyflow with only imports changed.

Each test body is ProxyStore code (its names, arguments and assertions); the
imports at the top of this module are the only lines that differ. Where a
ProxyStore habit loses data, proxyflow refuses it loudly (last tests).
"""

from __future__ import annotations

import pickle
import uuid
from pathlib import Path
from typing import Any

import pytest

# ProxyStore: from proxystore.connectors.file import FileConnector (and so on)
from proxyflow.connectors.file import FileConnector
from proxyflow.connectors.local import LocalConnector
from proxyflow.connectors.redis import RedisConnector
from proxyflow.proxy import Proxy, extract, get_factory, is_resolved, resolve
from proxyflow.store import (
    Store,
    get_or_create_store,
    get_store,
    register_store,
    store_registration,
    unregister_store,
)


def _name() -> str:
    return f"ps-{uuid.uuid4().hex[:8]}"


def test_registry_and_proxies_as_in_proxystore(tmp_path: Path) -> None:
    store = Store(_name(), FileConnector(str(tmp_path / "cache")), register=True)
    try:
        assert get_store(store.name) is store

        key = store.put(b"raw bytes")
        assert store.get(key) == b"raw bytes"
        assert isinstance(store.get(key), bytes)
        assert store.exists(key)
        store.evict(key)
        assert not store.exists(key)
        assert store.get(key, default="missing") == "missing"

        proxy = store.proxy(b"payload", evict=True)
        assert get_store(proxy) is store  # names the store; the proxy is not consumed
        assert isinstance(proxy, bytes)
        assert type(extract(proxy)) is bytes
        assert proxy == b"payload"

        proxies = store.proxy_batch([1, "two", [3]])
        assert [extract(p) for p in proxies] == [1, "two", [3]]
        from_key = store.proxy_from_key(store.put({"a": 1}))
        resolve(from_key)
        assert is_resolved(from_key)
        assert from_key == {"a": 1}
        assert get_factory(from_key).get_store() is store  # type: ignore[attr-defined]
    finally:
        store.close()
    assert get_store(store.name) is None


def test_unregister_and_context_managers_as_in_proxystore() -> None:
    with Store(_name(), LocalConnector()) as store:
        register_store(store)
        unregister_store(store)
        assert get_store(store.name) is None
        register_store(store, True)
        unregister_store(store.name)
        with store_registration(store):
            assert get_store(store.name) is store
        assert get_store(store.name) is None


def test_another_process_rebuilds_the_store_from_a_proxy(tmp_path: Path) -> None:
    with Store(_name(), FileConnector(str(tmp_path / "cache"))) as store:
        blob = pickle.dumps(store.proxy([1, 2, 3]))
        config = store.config()
    proxy: Any = pickle.loads(blob)  # as an unpickling process would
    assert proxy == [1, 2, 3]
    rebuilt = get_or_create_store(config)
    assert get_store(config.name) is rebuilt
    rebuilt.close()


def test_redis_connector_by_hostname_and_port(redis_url: str) -> None:
    host_port = redis_url.split("//", 1)[1].split("/", 1)[0]
    hostname, port = host_port.rsplit(":", 1)
    with Store(_name(), RedisConnector(hostname, int(port))) as store:
        proxy = store.proxy(bytearray(b"mutable"), evict=True)
        assert isinstance(proxy, bytearray)
        assert extract(proxy) == bytearray(b"mutable")


def test_proxystore_habits_that_lose_data_are_refused(tmp_path: Path) -> None:
    from proxyflow.connectors.exceptions import InvalidConfigError

    with pytest.raises(InvalidConfigError, match="clear"):
        FileConnector(str(tmp_path / "cache"), clear=True)
    with pytest.raises(InvalidConfigError, match="FLUSHDB"):
        RedisConnector("localhost", 6379, clear=True)
    with pytest.raises(TypeError):
        Proxy(lambda: 1, target=1)  # type: ignore[call-arg]
