"""Store.put / put_batch hand large pickled objects to VectoredConnector.put_parts."""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from proxyflow.connectors.file import FileConnector
from proxyflow.connectors.local import LocalConnector
from proxyflow.serialize import deserialize, register_serializer, serialize
from proxyflow.store import (
    VECTORED_PUT_MIN_BYTES,
    Store,
    StoreConfigError,
    VectoredConnector,
    unregister_store,
)

np = pytest.importorskip("numpy")

_names = itertools.count()


class Spy(FileConnector):
    """A file connector that records which write method each object went through."""

    def __init__(self, store_dir: str | Path) -> None:
        super().__init__(store_dir)
        self.calls: list[str] = []

    def put(self, data: Any) -> str:
        self.calls.append("put")
        return super().put(data)

    def put_batch(self, datas: Any) -> list[str]:
        self.calls.append(f"put_batch({len(datas)})")
        return super().put_batch(datas)

    def put_parts(self, parts: Any) -> str:
        self.calls.append("put_parts")
        return super().put_parts(parts)


@pytest.fixture
def spy(tmp_path: Path) -> Spy:
    return Spy(tmp_path / "objects")


@pytest.fixture
def store(spy: Spy) -> Iterator[Store]:
    name = f"vectored-{next(_names)}"
    s = Store(name, spy, metrics=True)
    yield s
    s.close()
    unregister_store(name)


def test_builtin_connectors_are_vectored(tmp_path: Path) -> None:
    assert isinstance(FileConnector(tmp_path), VectoredConnector)
    assert isinstance(LocalConnector(), VectoredConnector)


def test_large_numpy_array_goes_through_put_parts(store: Store, spy: Spy) -> None:
    arr = np.random.default_rng(0).random((512, 300))
    key = store.put(arr)
    assert spy.calls == ["put_parts"]
    back = store.get(key, evict=True)
    assert np.array_equal(back, arr)
    assert back.dtype == arr.dtype


def test_stored_bytes_equal_the_default_serialization(store: Store, spy: Spy) -> None:
    obj = {"a": np.arange(50_000), "b": "text"}
    key = store.put(obj)
    assert spy.calls == ["put_parts"]
    assert bytes(spy.get(key)) == bytes(serialize(obj))  # type: ignore[arg-type]
    assert store.metrics is not None
    assert store.metrics.bytes_held == len(serialize(obj))


def test_small_and_raw_objects_use_put(store: Store, spy: Spy) -> None:
    small = np.arange(10)
    keys = [store.put(small), store.put(b"x" * 1_000_000), store.put("text"), store.put([1])]
    assert spy.calls == ["put"] * 4
    assert np.array_equal(store.get(keys[0]), small)
    assert store.get(keys[1]) == b"x" * 1_000_000
    assert store.get(keys[2]) == "text"
    assert store.get(keys[3]) == [1]


def test_threshold(store: Store, spy: Spy) -> None:
    below = np.zeros(VECTORED_PUT_MIN_BYTES // 2, dtype=np.uint8)
    above = np.zeros(VECTORED_PUT_MIN_BYTES, dtype=np.uint8)
    store.put(below)
    store.put(above)
    assert spy.calls == ["put", "put_parts"]


def test_put_batch_mixes_put_parts_and_one_put_batch_in_order(store: Store, spy: Spy) -> None:
    big = [np.full(100_000, i, dtype=np.int32) for i in range(2)]
    objs = ["a", big[0], {"small": 1}, big[1], b"raw"]
    keys = store.put_batch(objs)
    assert spy.calls == ["put_batch(3)", "put_parts", "put_parts"]
    got = store.get_batch(keys)
    assert got[0] == "a"
    assert np.array_equal(got[1], big[0])
    assert got[2] == {"small": 1}
    assert np.array_equal(got[3], big[1])
    assert got[4] == b"raw"
    assert store.metrics is not None
    assert store.metrics.objects_held == 5


def test_put_batch_of_only_large_objects(store: Store, spy: Spy) -> None:
    keys = store.put_batch([np.ones(20_000), np.zeros(20_000)])
    assert spy.calls == ["put_parts", "put_parts"]
    assert [float(a.sum()) for a in store.get_batch(keys)] == [20_000.0, 0.0]


def test_unserializable_object_in_a_batch_stores_nothing(store: Store, spy: Spy) -> None:
    with pytest.raises(Exception, match="serialize"):
        store.put_batch([np.ones(20_000), lambda: 1])
    assert spy.calls == []
    assert spy.stats()["objects"] == 0


def _wrapped_serialize(obj: Any) -> Any:
    return serialize(obj)


def test_other_serializers_never_use_put_parts(spy: Spy) -> None:
    register_serializer("test-vectored-raw", _wrapped_serialize, deserialize, overwrite=True)
    arr = np.ones(100_000)
    with Store(f"vectored-{next(_names)}", spy, serializer="test-vectored-raw") as s:
        key = s.put(arr)
        assert np.array_equal(s.get(key), arr)
    with Store(f"vectored-{next(_names)}", spy) as s:
        s.put(arr, serializer="test-vectored-raw")
    assert spy.calls == ["put", "put"]


def test_store_rebuilt_without_its_serializer_still_refuses_to_write(spy: Spy) -> None:
    register_serializer("test-vectored-gone", _wrapped_serialize, deserialize, overwrite=True)
    with Store(f"vectored-{next(_names)}", spy, serializer="test-vectored-gone") as s:
        config = s.config()
    rebuilt = Store.from_config(
        {**config.to_dict(), "serializer": "test-vectored-unknown"}, deserializer=deserialize
    )
    with pytest.raises(StoreConfigError, match="serializer"):
        rebuilt.put(np.ones(100_000))
    rebuilt.close()


def test_put_of_a_100_mib_array_into_a_file_store_makes_no_copy(tmp_path: Path) -> None:
    arr = np.ones(100 * 1024 * 1024, dtype=np.uint8)
    with Store(f"vectored-{next(_names)}", FileConnector(tmp_path)) as s:
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            key = s.put(arr)
            peak = tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()
        assert peak < 1024 * 1024  # far below the 100 MiB of the array
        back = s.get(key, evict=True)
        assert back.nbytes == arr.nbytes
        assert np.array_equal(back, arr)
