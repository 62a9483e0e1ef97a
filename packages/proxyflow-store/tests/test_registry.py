from __future__ import annotations

import threading
from typing import Any

import pytest

from proxyflow.connectors.local import LocalConnector
from proxyflow.store import (
    Store,
    StoreClosedError,
    StoreConfig,
    StoreExistsError,
    get_or_create_store,
    get_store,
    register_store,
    unregister_store,
)


def test_register_get_unregister(store: Store) -> None:
    assert get_store(store.name) is None
    register_store(store)
    assert get_store(store.name) is store
    register_store(store)  # same instance again: fine
    assert unregister_store(store.name) is store
    assert get_store(store.name) is None
    assert unregister_store(store.name) is None
    assert not store.closed  # unregistering does not close


def test_name_taken_by_another_instance(store: Store) -> None:
    register_store(store)
    other = Store(store.name, LocalConnector())
    with pytest.raises(StoreExistsError):
        register_store(other)
    assert get_store(store.name) is store
    register_store(other, exist_ok=True)
    assert get_store(store.name) is other
    other.close()
    assert get_store(store.name) is None


def test_closed_store_cannot_be_registered(store_name: str) -> None:
    s = Store(store_name, LocalConnector())
    s.close()
    with pytest.raises(StoreClosedError):
        register_store(s)


def test_get_or_create_returns_registered_store_with_matching_config(store: Store) -> None:
    register_store(store)
    assert get_or_create_store(store.config()) is store
    assert get_or_create_store(store.config().to_dict()) is store


def test_get_or_create_builds_and_registers(store: Store) -> None:
    key = store.put("payload")
    config = store.config()
    built = get_or_create_store(config)
    try:
        assert built is not store
        assert get_store(store.name) is built
        assert get_or_create_store(config) is built
        assert built.get(key) == "payload"
    finally:
        built.close()
    assert get_store(store.name) is None


def test_get_or_create_without_registering(store: Store) -> None:
    built = get_or_create_store(store.config(), register=False)
    assert get_store(store.name) is None
    assert built.config() == store.config()
    built.close()


def test_get_or_create_with_conflicting_registered_config(store: Store) -> None:
    register_store(store)
    other = StoreConfig(store.name, "local", store.config().options, cache_size=3)
    with pytest.raises(StoreExistsError):
        get_or_create_store(other)
    unregistered = get_or_create_store(other, register=False)
    assert unregistered.config() == other
    assert get_store(store.name) is store
    unregistered.close()


def test_get_or_create_is_thread_safe(store: Store) -> None:
    config = store.config()
    n = 8
    barrier = threading.Barrier(n, timeout=30)
    got: list[Any] = []

    def worker() -> None:
        barrier.wait()
        got.append(get_or_create_store(config))

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive()
    assert len(got) == n
    assert all(s is got[0] for s in got)
    got[0].close()
