from __future__ import annotations

import pickle
import tracemalloc
from typing import Any

import pytest

from proxyflow.serialize import SerializationError, deserialize, serialize, serialize_parts
from proxyflow.serialize.format import TAG_ESCAPED


def _objects() -> list[Any]:
    np = pytest.importorskip("numpy")
    return [
        b"raw",
        b"",
        bytes([TAG_ESCAPED]) + b"escaped",
        bytearray(b"mutable"),
        memoryview(b"a view"),
        "text ✓",
        {"a": [1, 2.5, None]},
        np.arange(1000, dtype=np.float64),
        np.zeros((3, 5, 7), dtype=np.int8),
        {"x": np.ones(17, dtype=np.int16), "y": np.arange(3), "z": "between"},
        np.arange(20)[::3],  # not contiguous: pickled in-band
        np.zeros(0),
        pickle.PickleBuffer(b"out of band"),
    ]


def test_parts_join_to_the_serialized_bytes() -> None:
    for obj in _objects():
        parts = serialize_parts(obj)
        joined = b"".join(parts)
        assert joined == bytes(serialize(obj)), repr(obj)
        assert all(isinstance(part, (bytes, bytearray, memoryview)) for part in parts)
        assert all(len(part) == memoryview(part).nbytes for part in parts)
        assert all(len(part) > 0 for part in parts) or len(parts) == 1


def test_joined_parts_deserialize_unchanged() -> None:
    np = pytest.importorskip("numpy")
    arr = np.random.default_rng(1).random((64, 33))
    obj = {"arr": arr, "meta": [1, "two"]}
    back = deserialize(b"".join(serialize_parts(obj)))
    assert np.array_equal(back["arr"], arr)
    assert back["meta"] == [1, "two"]


def test_array_buffers_are_views_of_the_array_not_copies() -> None:
    np = pytest.importorskip("numpy")
    arr = np.zeros(8 * 1024 * 1024, dtype=np.uint8)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        parts = serialize_parts(arr)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024
    views = [part for part in parts if isinstance(part, memoryview)]
    assert len(views) == 1
    assert views[0].nbytes == arr.nbytes
    arr[0] = 7  # shares memory with the array
    assert views[0][0] == 7


def test_unpicklable_object_raises_serialization_error() -> None:
    with pytest.raises(SerializationError, match=r"lambda|function"):
        serialize_parts(lambda: 1)
