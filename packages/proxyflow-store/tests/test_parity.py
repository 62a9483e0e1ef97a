"""Names shared with ProxyStore mean what they mean in ProxyStore; types come back as put."""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from proxyflow.api import ProxyflowError
from proxyflow.connectors.file import FileConnector
from proxyflow.connectors.local import LocalConnector
from proxyflow.proxy import Proxy, ProxyError, ProxyResolveError, extract, is_resolved
from proxyflow.serialize import SerializationError, serialize
from proxyflow.store import (
    NotAStoreProxyError,
    Store,
    StoreError,
    StoreExistsError,
    get_store,
    register_store,
    store_registration,
    unregister_store,
)

_names = itertools.count()


def _name() -> str:
    return f"parity-{next(_names)}"


class BufferConnector:
    """A third-party connector that hands back bytearrays or memoryviews, not bytes."""

    kind = "local"

    def __init__(self, buffer_type: Callable[[bytes], Any]) -> None:
        self.inner = LocalConnector()
        self.buffer_type = buffer_type

    def put(self, data: Any) -> str:
        return self.inner.put(data)

    def put_batch(self, datas: Any) -> list[str]:
        return self.inner.put_batch(datas)

    def get(self, key: str, *, evict: bool = False) -> Any:
        data = self.inner.get(key, evict=evict)
        return None if data is None else self.buffer_type(data)

    def get_batch(self, keys: Any, *, evict: bool = False) -> list[Any]:
        return [self.get(key, evict=evict) for key in keys]

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
        self.inner.close()


def _connectors(tmp_path: Path, redis_url: str | None) -> dict[str, Callable[[], Any]]:
    makers: dict[str, Callable[[], Any]] = {
        "local": LocalConnector,
        "file": lambda: FileConnector(tmp_path / "objects"),
        "bytearray-returning": lambda: BufferConnector(bytearray),
        "memoryview-returning": lambda: BufferConnector(memoryview),
    }
    if redis_url is not None:
        from proxyflow.connectors.redis import RedisConnector

        makers["redis"] = lambda: RedisConnector(redis_url, prefix=f"{_name()}:")
    return makers


@pytest.fixture(params=["local", "file", "bytearray-returning", "memoryview-returning", "redis"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    connector = _connectors(tmp_path, redis_url)[request.param]()
    with Store(_name(), connector, cache_size=0) as store:
        yield store


_BIG = 200 * 1024  # over the vectored-put threshold


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (b"small bytes", bytes),
        (b"\xf9 starts with a tag byte", bytes),
        (bytes(_BIG), bytes),
        (bytearray(b"small bytearray"), bytearray),
        (bytearray(_BIG), bytearray),
        (memoryview(b"a view"), bytes),
        (memoryview(bytes(_BIG)), bytes),
        ("text", str),
        (b"", bytes),
        (bytearray(), bytearray),
    ],
    ids=lambda value: (
        f"{type(value).__name__}-{len(value)}" if not isinstance(value, type) else value.__name__
    ),
)
def test_the_type_put_is_the_type_returned(any_store: Store, obj: Any, expected: type) -> None:
    store = any_store
    equal = bytes(obj) if isinstance(obj, memoryview) else obj
    key = store.put(obj)
    assert type(store.get(key)) is expected
    assert store.get(key) == equal
    [batched] = store.get_batch([key])
    assert type(batched) is expected
    keys = store.put_batch([obj, obj])
    assert [type(value) for value in store.get_batch(keys, evict=True)] == [expected] * 2
    proxy = store.proxy(obj)
    assert isinstance(proxy, expected)
    assert not is_resolved(proxy)  # the type is known without reading the store
    assert type(extract(proxy)) is expected
    assert extract(proxy) == equal
    [from_batch] = store.proxy_batch([obj], evict=True)
    assert type(extract(from_batch)) is expected
    unpickled = pickle.loads(pickle.dumps(store.proxy(obj)))
    assert type(extract(unpickled)) is expected


def test_a_bytearray_read_back_is_the_callers_own(tmp_path: Path) -> None:
    with Store(_name(), FileConnector(tmp_path / "o"), cache_size=0) as store:
        key = store.put(bytearray(b"abc"))
        first = store.get(key)
        first[0:1] = b"X"
        assert store.get(key) == bytearray(b"abc")


def test_get_store_of_an_evicting_proxy_does_not_resolve_it(tmp_path: Path) -> None:
    with Store(_name(), FileConnector(tmp_path / "o"), register=True) as store:
        proxy = store.proxy({"payload": 1}, evict=True)
        key = extract_key(proxy)
        assert get_store(proxy) is store
        assert not is_resolved(proxy)
        assert store.exists(key)  # still stored: nothing was consumed
        assert extract(proxy) == {"payload": 1}
        assert not store.exists(key)


def test_get_store_of_an_unregistered_store_proxy_is_that_store(tmp_path: Path) -> None:
    with Store(_name(), FileConnector(tmp_path / "o")) as store:
        proxy = store.proxy(b"x", evict=True)
        assert get_store(proxy) is store
        assert get_store(store.name) is None  # the name itself is not registered
        assert not is_resolved(proxy)


def test_get_store_of_an_unpickled_proxy_finds_or_builds_the_registered_store(
    tmp_path: Path,
) -> None:
    with Store(_name(), FileConnector(tmp_path / "o")) as store:
        blob = pickle.dumps(store.proxy([1, 2], evict=True))
    proxy = pickle.loads(blob)
    found = get_store(proxy)
    try:
        assert found is not None
        assert found.name == store.name
        assert get_store(store.name) is found  # built and registered, as ProxyStore does
        assert not is_resolved(proxy)
        assert extract(proxy) == [1, 2]
    finally:
        assert found is not None
        found.close()


def test_get_store_of_a_plain_proxy_is_a_typed_error() -> None:
    proxy = Proxy(lambda: 1)
    with pytest.raises(NotAStoreProxyError) as info:
        get_store(proxy)
    assert isinstance(info.value, TypeError)
    assert not is_resolved(proxy)
    with pytest.raises(TypeError):
        get_store(42)  # type: ignore[arg-type]


def test_unregister_store_accepts_the_store() -> None:
    store = Store(_name(), LocalConnector())
    register_store(store)
    assert unregister_store(store) is store
    assert get_store(store.name) is None
    assert unregister_store(store) is None
    assert not store.closed


def test_register_store_takes_exist_ok_positionally() -> None:
    first, second = Store("shared-name", LocalConnector()), Store("shared-name", LocalConnector())
    try:
        register_store(first)
        with pytest.raises(StoreExistsError):
            register_store(second)
        register_store(second, True)
        assert get_store("shared-name") is second
    finally:
        unregister_store("shared-name")


def test_store_register_true_registers_until_closed() -> None:
    name = _name()
    store = Store(name, LocalConnector(), register=True)
    assert get_store(name) is store
    with pytest.raises(StoreExistsError):
        Store(name, LocalConnector(), register=True)
    store.close()
    assert get_store(name) is None


def test_store_registration_context_manager() -> None:
    stores = [Store(_name(), LocalConnector()), Store(_name(), LocalConnector())]
    with store_registration(*stores):
        assert [get_store(s.name) for s in stores] == stores
    assert [get_store(s.name) for s in stores] == [None, None]


def test_is_cached_and_serializer_properties() -> None:
    with Store(_name(), LocalConnector()) as store:
        key = store.put({"a": 1})
        assert not store.is_cached(key)
        store.get(key)
        assert store.is_cached(key)
        assert store.serializer is serialize
        assert store.deserializer(store.serializer({"b": 2})) == {"b": 2}


def test_context_managers_close_connectors(tmp_path: Path) -> None:
    with FileConnector(tmp_path / "o", clear_on_close=True) as connector:
        key = connector.put(b"x")
    assert not (tmp_path / "o" / key).exists()


def test_a_failing_custom_deserializer_is_a_serialization_error() -> None:
    def broken(data: Any) -> Any:
        raise ValueError("not what I expected")

    with Store(_name(), LocalConnector(), serializer=bytes, deserializer=broken) as store:
        key = store.put(b"x")
        with pytest.raises(SerializationError) as info:
            store.get(key)
        assert isinstance(info.value.__cause__, ValueError)


def test_a_serializer_returning_no_bytes_is_a_serialization_error() -> None:
    store = Store(_name(), LocalConnector(), serializer=str, deserializer=str)
    with store, pytest.raises(SerializationError, match="returned str"):
        store.put(1)


def test_resolve_error_has_a_cause_attribute() -> None:
    proxy = Proxy(lambda: 1 / 0)
    with pytest.raises(ProxyResolveError) as info:
        extract(proxy)
    assert isinstance(info.value.cause, ZeroDivisionError)
    assert info.value.cause is info.value.__cause__


def test_errors_derive_from_proxyflow_error() -> None:
    assert issubclass(StoreError, ProxyflowError)
    assert issubclass(SerializationError, ProxyflowError)
    assert issubclass(ProxyError, ProxyflowError)


def extract_key(proxy: Proxy[Any]) -> Any:
    from proxyflow.proxy import get_factory

    return get_factory(proxy).key  # type: ignore[attr-defined]
