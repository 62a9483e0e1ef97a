from __future__ import annotations

import pickle
import struct
import threading
import tracemalloc
from typing import Any

import pytest

from proxyflow.serialize import (
    CUSTOM_SERIALIZER,
    DEFAULT_SERIALIZER,
    SerializationError,
    SerializerExistsError,
    UnknownSerializerError,
    deserialize,
    get_serializer,
    register_serializer,
    serialize,
    serialize_parts,
    serializer_name,
)
from proxyflow.serialize.format import TAG_BYTEARRAY, TAG_ESCAPED, TAG_PICKLE5, TAG_STR


@pytest.mark.parametrize(
    "obj",
    [
        b"plain bytes",
        b"",
        bytes([TAG_ESCAPED]) + b"starts with a tag",
        bytes([TAG_PICKLE5, 0, 0]),
        "text",
        "",
        "ünïcödé ✓",
        {"a": [1, 2.5, None], "b": ("t", frozenset({1}))},
        [1, 2, 3],
        None,
        12345678901234567890,
        3.5,
        bytearray(b"mutable"),
    ],
    ids=repr,
)
def test_round_trip(obj: Any) -> None:
    out = deserialize(serialize(obj))
    assert out == obj
    assert type(out) is type(obj)


@pytest.mark.parametrize("carrier", [bytes, bytearray, memoryview], ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (b"raw", bytes),
        (bytes([TAG_STR]) + b"escaped", bytes),
        (b"", bytes),
        (bytearray(b"mutable"), bytearray),
        (bytearray(), bytearray),
        (memoryview(b"view"), bytes),
        ("text", str),
    ],
    ids=repr,
)
def test_the_type_put_is_the_type_returned_whatever_buffer_carries_it(
    obj: Any, expected: type, carrier: type
) -> None:
    # Connectors and brokers hand payloads back as bytes, bytearray or memoryview.
    payload = carrier(b"".join(bytes(part) for part in serialize_parts(obj)))
    out = deserialize(payload)
    assert type(out) is expected
    assert out == (bytes(obj) if isinstance(obj, memoryview) else obj)
    assert deserialize(serialize(obj)) == out


def test_bytearray_is_tagged_and_comes_back_as_a_new_bytearray() -> None:
    buf = bytearray(b"abc")
    out = serialize(buf)
    assert bytes(out) == bytes([TAG_BYTEARRAY]) + b"abc"
    back = deserialize(out)
    assert type(back) is bytearray
    assert back == buf
    assert back is not buf
    parts = serialize_parts(buf)
    assert parts[0] == bytes([TAG_BYTEARRAY])
    assert parts[1] is buf  # no copy on the vectored path


def test_bytes_pass_through_without_copy() -> None:
    data = b"x" * 1000
    assert serialize(data) is data
    assert deserialize(data) is data


def test_memoryview_passes_through_without_copy_and_comes_back_as_bytes() -> None:
    view = memoryview(b"abc")
    assert serialize(view) is view
    back = deserialize(serialize(view))
    assert type(back) is bytes
    assert back == b"abc"


def test_multidimensional_memoryview_is_flattened_not_copied() -> None:
    np = pytest.importorskip("numpy")
    arr = np.arange(12, dtype=np.int32).reshape(3, 4)
    out = serialize(memoryview(arr))
    assert isinstance(out, memoryview)
    assert out.ndim == 1
    assert out.format == "B"
    assert out.nbytes == arr.nbytes
    assert np.shares_memory(np.frombuffer(out, dtype=np.uint8), arr)


def test_payload_starting_with_a_tag_byte_is_escaped() -> None:
    data = bytes([TAG_STR]) + b"not text"
    out = serialize(data)
    assert out[0] == TAG_ESCAPED
    assert deserialize(out) == data


def test_str_is_utf8_with_tag() -> None:
    out = serialize("é")
    assert bytes(out) == bytes([TAG_STR]) + "é".encode()


class TaggedStr(str):
    pass


def test_subclasses_keep_their_type() -> None:
    out = deserialize(serialize(TaggedStr("x")))
    assert type(out) is TaggedStr
    assert out == "x"


def test_numpy_round_trip_is_out_of_band_and_zero_copy() -> None:
    np = pytest.importorskip("numpy")
    arr = np.arange(1_000_000, dtype=np.float64)
    data = serialize({"array": arr, "label": "x"})
    assert isinstance(data, bytearray)
    assert data[0] == TAG_PICKLE5
    (count,) = struct.unpack_from("<I", data, 1)
    assert count == 1
    out = deserialize(data)
    assert out["label"] == "x"
    np.testing.assert_array_equal(out["array"], arr)
    # the rebuilt array is backed by the payload itself
    assert np.shares_memory(out["array"], np.frombuffer(data, dtype=np.uint8))
    assert out["array"].flags.writeable  # bytearray input -> writeable view


def test_numpy_from_immutable_bytes_is_read_only_view() -> None:
    np = pytest.importorskip("numpy")
    arr = np.arange(1000, dtype=np.int64)
    data = bytes(serialize(arr))
    out = deserialize(data)
    np.testing.assert_array_equal(out, arr)
    assert not out.flags.writeable
    assert np.shares_memory(out, np.frombuffer(data, dtype=np.uint8))


def test_out_of_band_buffers_are_aligned() -> None:
    np = pytest.importorskip("numpy")
    data = serialize([np.ones(10), np.ones(3, dtype=np.int8), np.ones(5)])
    out = deserialize(data)
    base = np.frombuffer(data, dtype=np.uint8).ctypes.data
    for arr in out:
        assert (arr.ctypes.data - base) % 64 == 0


def test_non_contiguous_array_still_round_trips() -> None:
    np = pytest.importorskip("numpy")
    arr = np.arange(100).reshape(10, 10)[:, ::3]
    np.testing.assert_array_equal(deserialize(serialize(arr)), arr)


def test_pickle_buffer_out_of_band() -> None:
    payload = bytearray(b"z" * 4096)
    data = serialize(pickle.PickleBuffer(payload))
    assert len(data) < 4096 + 200
    out = deserialize(data)
    assert bytes(out) == bytes(payload)


def test_serialize_copies_a_large_array_exactly_once() -> None:
    np = pytest.importorskip("numpy")
    arr = np.zeros(20 * 1024 * 1024, dtype=np.uint8)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        data = serialize(arr)
        ser_peak = tracemalloc.get_traced_memory()[1] - before
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = deserialize(data)
        de_peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert arr.nbytes <= ser_peak < arr.nbytes * 1.05
    assert de_peak < 64 * 1024
    assert out.nbytes == arr.nbytes


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("obj", [lambda: 1, threading.Lock(), (x for x in [1])], ids=repr)
def test_unserializable_objects_raise_serialization_error(obj: Any) -> None:
    with pytest.raises(SerializationError) as info:
        serialize(obj)
    assert info.value.__cause__ is not None


def _pickled() -> bytearray:
    out = serialize({"a": list(range(50))})
    assert isinstance(out, bytearray)
    return out


@pytest.mark.parametrize(
    "data",
    [
        bytes([TAG_PICKLE5]),
        bytes([TAG_PICKLE5, 1, 2, 3]),
        bytes(_pickled()[:-5]),
        bytes(_pickled()) + b"extra",
        bytes([TAG_PICKLE5]) + struct.pack("<IQ", 0, 4) + b"\x00\x01\x02\x03",
        bytes([TAG_PICKLE5]) + struct.pack("<IQ", 1_000_000, 0),
        bytes([TAG_PICKLE5]) + struct.pack("<IQ", 1, 0) + struct.pack("<Q", 2**40),
        bytes([TAG_STR]) + b"\xff\xfe",
    ],
    ids=[
        "tag-only",
        "short-header",
        "truncated",
        "trailing-garbage",
        "garbage-pickle",
        "huge-buffer-count",
        "huge-buffer",
        "bad-utf8",
    ],
)
def test_corrupt_or_truncated_data_raises_serialization_error(data: bytes) -> None:
    with pytest.raises(SerializationError):
        deserialize(data)


def test_corrupt_pickle_body_is_wrapped() -> None:
    data = _pickled()
    data[20:30] = b"\xff" * 10
    with pytest.raises(SerializationError) as info:
        deserialize(data)
    assert info.value.__cause__ is not None


def test_every_tag_byte_has_a_meaning() -> None:
    assert deserialize(bytes([TAG_BYTEARRAY])) == bytearray()
    assert deserialize(bytes([TAG_ESCAPED])) == b""
    assert deserialize(bytes([TAG_STR])) == ""


def test_non_bytes_input_raises_serialization_error() -> None:
    with pytest.raises(SerializationError):
        deserialize(12)  # type: ignore[arg-type]


# -- registry ------------------------------------------------------------------------------------


def _dumps(obj: Any) -> bytes:
    return repr(obj).encode()


def _loads(data: Any) -> Any:
    return bytes(data).decode()


def test_default_serializer_is_registered() -> None:
    assert get_serializer(DEFAULT_SERIALIZER) == (serialize, deserialize)
    assert serializer_name(serialize) == DEFAULT_SERIALIZER


def test_register_get_and_reverse_lookup() -> None:
    register_serializer("test-repr", _dumps, _loads)
    register_serializer("test-repr", _dumps, _loads)  # same pair again: fine
    assert get_serializer("test-repr") == (_dumps, _loads)
    assert serializer_name(_dumps) == "test-repr"
    assert serializer_name(lambda o: b"") is None


def test_register_conflict_and_overwrite() -> None:
    # Functions of its own: the registry is global, and a reverse lookup of
    # _dumps in another test must not find this name (tests may run in any order).
    def dumps(obj: object) -> bytes:
        return repr(obj).encode()

    def loads(data: bytes) -> str:
        return bytes(data).decode()

    register_serializer("test-conflict", dumps, loads)
    with pytest.raises(SerializerExistsError):
        register_serializer("test-conflict", dumps, lambda d: d)
    register_serializer("test-conflict", dumps, str, overwrite=True)
    assert get_serializer("test-conflict")[1] is str


@pytest.mark.parametrize("name", [DEFAULT_SERIALIZER, CUSTOM_SERIALIZER])
def test_reserved_names(name: str) -> None:
    with pytest.raises(SerializerExistsError):
        register_serializer(name, _dumps, _loads, overwrite=True)


def test_unknown_serializer() -> None:
    with pytest.raises(UnknownSerializerError) as info:
        get_serializer("no-such-serializer")
    assert isinstance(info.value, SerializationError)
    assert isinstance(info.value, LookupError)


def test_register_validates_arguments() -> None:
    with pytest.raises(TypeError):
        register_serializer("", _dumps, _loads)
    with pytest.raises(TypeError):
        register_serializer("x", 1, _loads)  # type: ignore[arg-type]


def test_a_strided_view_of_raw_bytes_deserializes_to_its_bytes() -> None:
    strided = memoryview(bytearray(b"a-b-c-"))[::2]
    assert not strided.contiguous
    assert deserialize(strided) == b"abc"
