from __future__ import annotations

import json
import pickle
import threading
from typing import Any

import pytest

from proxyflow.connectors.local import LocalConnector
from proxyflow.proxy import Proxy, ProxyResolveError, extract, get_factory, is_resolved
from proxyflow.serialize import (
    SerializationError,
    UnknownSerializerError,
    register_serializer,
)
from proxyflow.store import (
    ObjectMissingError,
    Store,
    StoreClosedError,
    StoreConfig,
    StoreConfigError,
    StoreFactory,
    get_store,
    register_store,
    unregister_store,
)


class Recording:
    """Wraps a local connector and records the calls made to it."""

    kind = "local"

    def __init__(self) -> None:
        self.inner = LocalConnector()
        self.calls: list[str] = []

    def put(self, data: Any) -> str:
        self.calls.append("put")
        return self.inner.put(data)

    def put_batch(self, datas: Any) -> list[str]:
        self.calls.append("put_batch")
        return self.inner.put_batch(datas)

    def get(self, key: str, *, evict: bool = False) -> bytes | None:
        self.calls.append(f"get(evict={evict})")
        return self.inner.get(key, evict=evict)

    def get_batch(self, keys: Any, *, evict: bool = False) -> list[bytes | None]:
        self.calls.append(f"get_batch(evict={evict})")
        return self.inner.get_batch(keys, evict=evict)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def evict(self, key: str) -> None:
        self.inner.evict(key)

    def config(self) -> dict[str, Any]:
        return self.inner.config()

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LocalConnector:
        return LocalConnector.from_config(config)

    def close(self) -> None:
        self.calls.append("close")
        self.inner.close()


@pytest.fixture
def rec_store(store_name: str) -> Any:
    connector = Recording()
    s = Store(store_name, connector, metrics=True)
    yield s, connector
    s.close()


def test_properties(store: Store) -> None:
    assert store.name.startswith("test-store-")
    assert isinstance(store.connector, LocalConnector)
    assert not store.closed
    assert store.metrics is not None
    assert "open" in repr(store)
    plain = Store("no-metrics", LocalConnector())
    assert plain.metrics is None
    plain.close()


@pytest.mark.parametrize("obj", [b"bytes", "text", {"a": [1, 2]}, None, 0, [], (1, "x")], ids=repr)
def test_put_get_round_trip(store: Store, obj: Any) -> None:
    key = store.put(obj)
    assert store.exists(key)
    assert store.get(key) == obj


def test_get_missing_returns_default(store: Store) -> None:
    key = store.put(1)
    store.evict(key)
    assert not store.exists(key)
    assert store.get(key) is None
    assert store.get(key, default="fallback") == "fallback"
    store.evict(key)  # evicting again is fine


def test_put_batch_uses_one_connector_call(rec_store: Any) -> None:
    store, connector = rec_store
    keys = store.put_batch([1, "two", b"three"])
    assert connector.calls == ["put_batch"]
    assert len(set(keys)) == 3
    assert store.get_batch(keys) == [1, "two", b"three"]
    assert store.put_batch([]) == []


def test_put_batch_with_bad_object_stores_nothing(store: Store) -> None:
    stats_before = store.connector.stats()  # type: ignore[attr-defined]
    with pytest.raises(SerializationError):
        store.put_batch([1, lambda: 2, 3])
    assert store.connector.stats() == stats_before  # type: ignore[attr-defined]


def test_serialize_then_put_serialized_batch(rec_store: Any) -> None:
    store, connector = rec_store
    pieces = [store.serialize(obj) for obj in (1, "two", b"three")]
    assert connector.calls == []  # serializing stores nothing
    keys = store.put_serialized_batch(pieces)
    assert connector.calls == ["put_batch"]
    assert store.get_batch(keys) == [1, "two", b"three"]
    assert store.put_serialized_batch([]) == []


def test_serialize_fails_alone_on_a_bad_object(store: Store) -> None:
    with pytest.raises(SerializationError):
        store.serialize(threading.Lock())
    assert store.connector.stats()["objects"] == 0  # type: ignore[attr-defined]


def test_serialize_on_a_closed_store_raises(store: Store) -> None:
    store.close()
    with pytest.raises(StoreClosedError):
        store.serialize(1)
    with pytest.raises(StoreClosedError):
        store.put_serialized_batch([])


def test_put_unserializable_stores_nothing(store: Store) -> None:
    with pytest.raises(SerializationError) as info:
        store.put(threading.Lock())
    assert info.value.__cause__ is not None
    assert store.connector.stats()["objects"] == 0  # type: ignore[attr-defined]


def test_get_uses_cache(rec_store: Any) -> None:
    store, connector = rec_store
    key = store.put({"big": list(range(10))})
    first = store.get(key)
    second = store.get(key)
    assert first is second
    assert connector.calls.count("get(evict=False)") == 1
    snap = store.metrics.snapshot()
    assert snap["cache_hits"] == 1
    assert snap["cache_misses"] == 1


def test_cache_is_lru_and_bounded(store_name: str) -> None:
    connector = Recording()
    store = Store(store_name, connector, cache_size=2)
    keys = [store.put(i) for i in range(3)]
    for k in keys:
        store.get(k)
    connector.calls.clear()
    store.get(keys[2])
    store.get(keys[1])
    assert connector.calls == []
    store.get(keys[0])  # evicted from the cache (least recently used)
    assert connector.calls == ["get(evict=False)"]
    store.close()


def test_cache_disabled(store_name: str) -> None:
    connector = Recording()
    store = Store(store_name, connector, cache_size=0)
    key = store.put([1])
    a, b = store.get(key), store.get(key)
    assert a == b
    assert a is not b
    assert connector.calls.count("get(evict=False)") == 2
    store.close()


def test_get_evict_is_one_round_trip_and_drops_cache(rec_store: Any) -> None:
    store, connector = rec_store
    key = store.put("v")
    assert store.get(key) == "v"  # now cached
    connector.calls.clear()
    assert store.get(key, evict=True) == "v"
    assert connector.calls == ["get(evict=True)"]
    assert not store.exists(key)
    assert store.get(key, default="gone") == "gone"


def test_get_batch_fetches_misses_in_one_call(rec_store: Any) -> None:
    store, connector = rec_store
    keys = store.put_batch(["a", "b", "c"])
    store.get(keys[1])
    store.evict(keys[2])
    connector.calls.clear()
    assert store.get_batch(keys, default=0) == ["a", "b", 0]
    assert connector.calls == ["get_batch(evict=False)"]
    connector.calls.clear()
    assert store.get_batch(keys[:2]) == ["a", "b"]  # all cached now
    assert connector.calls == []


def test_get_batch_evict(store: Store) -> None:
    keys = store.put_batch([1, 2])
    store.get(keys[0])
    assert store.get_batch(keys, evict=True) == [1, 2]
    assert not store.exists(keys[0])
    assert not store.exists(keys[1])
    assert store.get_batch(keys, evict=True, default="x") == ["x", "x"]


def test_metrics(store: Store) -> None:
    key = store.put(b"12345")
    keys = store.put_batch([b"ab", b"cd"])
    store.get(key)
    store.get_batch(keys)
    store.exists(key)
    assert store.metrics is not None
    assert store.metrics.objects_held == 3
    assert store.metrics.bytes_held == 9
    store.evict(keys[0])
    store.get(key, evict=True)
    snap = store.metrics.snapshot()
    json.dumps(snap)  # JSON-serializable
    ops = snap["operations"]
    assert ops["put"]["count"] == 1
    assert ops["put"]["bytes"] == 5
    assert ops["put_batch"] == {
        "count": 1,
        "objects": 2,
        "bytes": 4,
        "seconds": ops["put_batch"]["seconds"],
    }
    assert ops["get"]["count"] == 2
    assert ops["get_batch"]["objects"] == 2
    assert ops["evict"]["count"] == 1
    assert ops["exists"]["count"] == 1
    assert all(v["seconds"] >= 0 for v in ops.values())
    assert snap["objects_held"] == 1
    assert snap["bytes_held"] == 2


def test_per_call_serializer_and_deserializer(store: Store) -> None:
    register_serializer("test-upper", lambda s: s.upper().encode(), lambda b: bytes(b).decode())
    key = store.put("hello", serializer="test-upper")
    assert store.get(key, deserializer="test-upper") == "HELLO"
    key2 = store.put("x", serializer=lambda s: b"raw:" + s.encode())
    assert store.get(key2) == b"raw:x"


def test_custom_serializer_requires_deserializer(store_name: str) -> None:
    with pytest.raises(StoreConfigError):
        Store(store_name, LocalConnector(), serializer=lambda o: b"")
    store = Store(
        store_name,
        LocalConnector(),
        serializer=lambda o: json.dumps(o).encode(),
        deserializer=lambda b: json.loads(bytes(b)),
    )
    assert store.config().serializer == "custom"
    key = store.put({"j": 1})
    assert store.get(key) == {"j": 1}
    with pytest.raises(UnknownSerializerError):
        Store.from_config(store.config())
    reader = Store.from_config(store.config(), deserializer=lambda b: json.loads(bytes(b)))
    assert reader.get(key) == {"j": 1}
    with pytest.raises(StoreConfigError):
        reader.put(1)
    reader.close()
    store.close()


def test_registered_serializer_name_is_recorded(store_name: str) -> None:
    def dumps(o: Any) -> bytes:
        return json.dumps(o).encode()

    def loads(b: Any) -> Any:
        return json.loads(bytes(b))

    register_serializer("test-json", dumps, loads)
    store = Store(store_name, LocalConnector(), serializer=dumps)
    assert store.config().serializer == "test-json"
    store2 = Store(store_name + "-2", LocalConnector(), serializer="test-json")
    key = store2.put([1])
    rebuilt = Store.from_config(store2.config())
    assert rebuilt.get(key) == [1]
    for s in (store, store2, rebuilt):
        s.close()


def test_unknown_serializer_name(store_name: str) -> None:
    with pytest.raises(UnknownSerializerError):
        Store(store_name, LocalConnector(), serializer="nope")


@pytest.mark.parametrize("bad", [{"name": ""}, {"cache_size": -1}, {"cache_size": True}])
def test_invalid_constructor_arguments(bad: dict[str, Any]) -> None:
    kwargs: dict[str, Any] = {"name": "ok", "cache_size": 1} | bad
    name = kwargs.pop("name")
    with pytest.raises(StoreConfigError):
        Store(name, LocalConnector(), **kwargs)


# -- proxies -------------------------------------------------------------------------------------


def test_proxy_is_lazy_and_typed(rec_store: Any) -> None:
    store, connector = rec_store
    p = store.proxy({"x": 1})
    assert connector.calls == ["put"]
    assert isinstance(p, dict)
    assert not is_resolved(p)
    assert p["x"] == 1
    assert connector.calls == ["put", "get(evict=False)"]
    factory = get_factory(p)
    assert isinstance(factory, StoreFactory)
    assert factory.target_type is dict
    assert factory.config == store.config()


def test_proxy_round_trips_through_pickle(store: Store) -> None:
    register_store(store)
    p = store.proxy([1, 2, 3])
    clone = pickle.loads(pickle.dumps(p))
    assert not is_resolved(clone)
    assert clone == [1, 2, 3]


def test_evict_proxy_removes_object_on_resolve(store: Store) -> None:
    p = store.proxy("once", evict=True)
    key = get_factory(p).key  # type: ignore[attr-defined]
    assert store.exists(key)
    assert p == "once"
    assert not store.exists(key)


def test_proxy_batch(rec_store: Any) -> None:
    store, connector = rec_store
    proxies = store.proxy_batch([1, "a", [2]], evict=True)
    assert connector.calls == ["put_batch"]
    assert [isinstance(p, t) for p, t in zip(proxies, (int, str, list), strict=True)] == [
        True,
        True,
        True,
    ]
    assert [extract(p) for p in proxies] == [1, "a", [2]]
    assert all(not store.exists(get_factory(p).key) for p in proxies)  # type: ignore[attr-defined]


def test_proxy_from_key(store: Store) -> None:
    key = store.put(3.5)
    p = store.proxy_from_key(key, target_type=float)
    assert isinstance(p, float)
    assert not is_resolved(p)
    assert p * 2 == 7.0


def test_missing_key_raises_resolve_error_caused_by_object_missing(store: Store) -> None:
    key = store.put("x")
    p = store.proxy_from_key(key)
    store.evict(key)
    with pytest.raises(ProxyResolveError) as info:
        extract(p)
    cause = info.value.__cause__
    assert isinstance(cause, ObjectMissingError)
    assert isinstance(cause, KeyError)
    assert cause.key == key
    assert cause.store_name == store.name
    assert key in str(cause)
    assert store.name in str(cause)
    assert key in str(info.value)


def test_proxy_with_per_call_serializer(store: Store) -> None:
    register_serializer("test-rev", lambda s: s[::-1].encode(), lambda b: bytes(b).decode()[::-1])
    p = store.proxy("abc", serializer="test-rev")
    assert p == "abc"
    with pytest.raises(StoreConfigError):
        store.proxy("abc", serializer=lambda s: b"")


def test_proxy_resolves_in_store_rebuilt_from_registry(store: Store) -> None:
    key = store.put({"k": "v"})
    factory = StoreFactory(key, store.config(), target_type=dict)
    register_store(store)
    assert Proxy(factory) == {"k": "v"}


# -- closing -------------------------------------------------------------------------------------


def test_closed_store_raises_on_every_operation(rec_store: Any) -> None:
    store, connector = rec_store
    key = store.put(1)
    config = store.config()
    register_store(store)
    store.close()
    store.close()  # twice is fine
    assert store.closed
    assert connector.calls.count("close") == 1
    assert get_store(store.name) is None  # a closed store leaves the registry
    assert store.config() == config  # cached
    operations = [
        lambda: store.put(1),
        lambda: store.put_batch([1]),
        lambda: store.get(key),
        lambda: store.get_batch([key]),
        lambda: store.exists(key),
        lambda: store.evict(key),
        lambda: store.proxy(1),
        lambda: store.proxy_batch([1]),
        lambda: store.proxy_from_key(key),
    ]
    for op in operations:
        with pytest.raises(StoreClosedError):
            op()
    with pytest.raises(StoreClosedError), store:
        pass


def test_close_keeps_data_and_context_manager(store_name: str) -> None:
    connector = LocalConnector()
    with Store(store_name, connector) as store:
        key = store.put("kept")
    assert store.closed
    reader = Store(store_name, LocalConnector.from_config(connector.config()))
    assert reader.get(key) == "kept"
    reader.close()


def test_proxy_of_closed_store_rebuilds_through_registry(store: Store) -> None:
    p = store.proxy("survives")
    store.close()
    try:
        assert p == "survives"
        rebuilt = get_store(store.name)
        assert rebuilt is not None
        assert rebuilt is not store
    finally:
        s = unregister_store(store.name)
        if s is not None:
            s.close()


# -- config --------------------------------------------------------------------------------------


def test_config_is_cached_and_round_trips(store: Store) -> None:
    cfg = store.config()
    assert store.config() is cfg
    assert cfg.name == store.name
    assert cfg.connector == "local"
    assert cfg.serializer == "default"
    assert cfg.cache_size == 16
    assert StoreConfig.from_json(cfg.to_json()) == cfg
    key = store.put("shared")
    rebuilt = Store.from_config(cfg.to_dict())
    assert rebuilt.config() == cfg
    assert rebuilt.get(key) == "shared"
    rebuilt.close()


# -- threads -------------------------------------------------------------------------------------


def test_many_threads_put_and_get(store: Store) -> None:
    n_threads, per_thread = 8, 50
    barrier = threading.Barrier(n_threads, timeout=30)
    errors: list[BaseException] = []
    results: dict[int, list[Any]] = {}

    def worker(t: int) -> None:
        try:
            barrier.wait()
            keys = [store.put((t, i)) for i in range(per_thread)]
            keys += store.put_batch([(t, -i) for i in range(5)])
            results[t] = [store.get(k) for k in keys] + store.get_batch(keys)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
        assert not th.is_alive()
    assert errors == []
    for t in range(n_threads):
        expected = [(t, i) for i in range(per_thread)] + [(t, -i) for i in range(5)]
        assert results[t] == expected + expected
    assert store.metrics is not None
    snap = store.metrics.snapshot()
    assert snap["operations"]["put"]["count"] == n_threads * per_thread
    assert snap["objects_held"] == n_threads * (per_thread + 5)


def test_binary_proxies_report_their_type_without_resolving(tmp_path) -> None:
    from proxyflow.connectors.file import FileConnector
    from proxyflow.proxy import extract, is_resolved
    from proxyflow.store import Store

    with Store("binary-isinstance", FileConnector(str(tmp_path / "s"))) as store:
        proxy = store.proxy(b"abc")
        assert isinstance(proxy, bytes)
        assert not is_resolved(proxy)
        assert type(extract(proxy)) is bytes
        assert bytes(proxy) == b"abc"
        numbers = store.proxy([1, 2])
        assert isinstance(numbers, list)
        assert not is_resolved(numbers)


def test_get_batch_return_exceptions_keeps_the_other_objects() -> None:
    from proxyflow.connectors.local import LocalConnector
    from proxyflow.serialize import SerializationError
    from proxyflow.store import Store

    class Undecodable:
        def __reduce__(self) -> tuple[object, ...]:
            return (int, ("not a number",))

    with Store("batch-exceptions", LocalConnector()) as store:
        keys = store.put_batch(["a", Undecodable(), "c"])
        values = store.get_batch(keys, evict=True, return_exceptions=True)
        assert values[0] == "a"
        assert isinstance(values[1], SerializationError)
        assert values[2] == "c"
        with pytest.raises(SerializationError):
            store.get_batch(store.put_batch([Undecodable()]))
