from __future__ import annotations

import shutil
import tempfile

import msgpack
import pytest

from proxyflow.store import Store, StoreConfig
from proxyflow.stream.events import (
    FORMAT_VERSION,
    BatchEvent,
    EndOfStreamEvent,
    EventType,
    NewObjectEvent,
    NewObjectKeyEvent,
    check_metadata,
    decode_event,
    decode_store_config,
    encode_event,
    encode_store_config,
)
from proxyflow.stream.exceptions import EventDecodeError, EventEncodeError, StreamError

PID = bytes(range(8))

FILE_CONFIG = StoreConfig(
    name="frames",
    connector="file",
    options={"store_dir": "/tmp/proxyflow-run-3f9a2c/store"},
    serializer="default",
    cache_size=16,
)
REDIS_CONFIG = StoreConfig(
    name="frames",
    connector="redis",
    options={
        "url": "redis://127.0.0.1:6379/0",
        "prefix": "proxyflow:",
        "socket_timeout": 5.0,
        "connect_timeout": 5.0,
        "password_env": None,
    },
    serializer="default",
    cache_size=16,
)
KEY = "0123456789abcdef0123456789abcdef"  # a uuid4().hex, as the built-in connectors make


def key_event(seq: int = 0, config: StoreConfig = FILE_CONFIG, **md: object) -> NewObjectKeyEvent:
    return NewObjectKeyEvent(
        producer_id=PID,
        topic="frames",
        seq=seq,
        store_config=encode_store_config(config),
        key=KEY,
        evict=True,
        metadata=dict(md),
    )


def inline_event(seq: int = 0, payload: bytes = b"\x00abc") -> NewObjectEvent:
    return NewObjectEvent(
        producer_id=PID,
        topic="frames",
        seq=seq,
        serializer="default",
        payload=payload,
        metadata={"i": seq},
    )


ALL_EVENTS = [
    key_event(),
    key_event(7, REDIS_CONFIG, a=1, b=[1, 2.5, "x"], c={"nested": b"raw"}, d=None),
    inline_event(),
    inline_event(3, b""),
    EndOfStreamEvent(producer_id=PID, topic="frames", seq=12),
    EndOfStreamEvent(producer_id=b"p", topic="", seq=2**63),
    BatchEvent(PID, "frames", tuple(key_event(i, i=i) for i in range(3))),
    BatchEvent(PID, "frames", (inline_event(4), inline_event(5))),
]


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: type(e).__name__)
def test_round_trip(event: object) -> None:
    data = encode_event(event)  # type: ignore[arg-type]
    assert isinstance(data, bytes)
    assert decode_event(data) == event
    assert decode_event(memoryview(data)) == event
    assert decode_event(bytearray(data)) == event


def test_wire_layout_is_a_versioned_positional_array() -> None:
    fields = msgpack.unpackb(encode_event(key_event()), raw=False)
    assert isinstance(fields, list)
    assert fields[:5] == [FORMAT_VERSION, EventType.NEW_OBJECT_KEY, PID, "frames", 0]
    assert fields[6:] == [KEY, True, {}]
    eos = msgpack.unpackb(encode_event(EndOfStreamEvent(PID, "t", 1)), raw=False)
    assert eos == [1, 3, PID, "t", 1]


def test_store_config_round_trip() -> None:
    assert decode_store_config(encode_store_config(FILE_CONFIG)) == FILE_CONFIG
    assert decode_store_config(encode_store_config(REDIS_CONFIG)) == REDIS_CONFIG


def test_event_sizes_for_file_and_redis_stores() -> None:
    """Measured with the real connectors' configs (a redis client connects lazily)."""
    from proxyflow.connectors.file import FileConnector
    from proxyflow.connectors.redis import RedisConnector

    store_dir = tempfile.mkdtemp(prefix="proxyflow-")
    try:
        file_store = Store("frames", FileConnector(store_dir))
        redis_store = Store("frames", RedisConnector("redis://127.0.0.1:6379/0"))
        file_config, redis_config = file_store.config(), redis_store.config()
        file_store.close()
        redis_store.close()
    finally:
        shutil.rmtree(store_dir, ignore_errors=True)
    assert file_config.options["store_dir"].startswith("/tmp/")
    file_size = len(encode_event(key_event(config=file_config)))
    redis_size = len(encode_event(key_event(config=redis_config)))
    print(f"key event size: file store {file_size} B, redis store {redis_size} B")
    assert file_size <= 150
    assert redis_size <= 150
    # Metadata adds only its own packed size.
    with_md = len(encode_event(key_event(config=file_config, index=1)))
    assert with_md - file_size == len(msgpack.packb({"index": 1})) - 1


def _pack(value: object) -> bytes:
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


GOOD_KEY = [1, 2, PID, "t", 0, encode_store_config(FILE_CONFIG), KEY, True, {}]

BAD_MESSAGES = {
    "empty": b"",
    "garbage": b"\xc1\xc1\xc1",
    "truncated": encode_event(key_event())[:-5],
    "trailing bytes": encode_event(key_event()) + b"\x00",
    "not an array": _pack({"version": 1}),
    "too short": _pack([1, 2, PID]),
    "unknown version": _pack([2, *GOOD_KEY[1:]]),
    "version as str": _pack(["1", *GOOD_KEY[1:]]),
    "unknown type": _pack([1, 9, PID, "t", 0]),
    "type as bool": _pack([1, True, PID, "t", 0, "default", b"x", {}]),
    "pid not bin": _pack([1, 3, "producer", "t", 0]),
    "pid empty": _pack([1, 3, b"", "t", 0]),
    "pid too long": _pack([1, 3, b"x" * 65, "t", 0]),
    "topic not str": _pack([1, 3, PID, b"t", 0]),
    "negative seq": _pack([1, 3, PID, "t", -1]),
    "float seq": _pack([1, 3, PID, "t", 1.0]),
    "eos extra field": _pack([1, 3, PID, "t", 0, 0]),
    "key event short": _pack(GOOD_KEY[:-1]),
    "config not bin": _pack([*GOOD_KEY[:5], "cfg", *GOOD_KEY[6:]]),
    "key is nil": _pack([*GOOD_KEY[:6], None, True, {}]),
    "evict not bool": _pack([*GOOD_KEY[:7], 1, {}]),
    "metadata not map": _pack([*GOOD_KEY[:8], [1]]),
    "metadata int key": _pack([*GOOD_KEY[:8], {1: 2}]),
    "inline payload str": _pack([1, 1, PID, "t", 0, "default", "text", {}]),
    "inline serializer int": _pack([1, 1, PID, "t", 0, 5, b"x", {}]),
    "batch empty": _pack([1, 4, PID, "t", None, []]),
    "batch item short": _pack([1, 4, PID, "t", None, [[0, "default", b"x"]]]),
    "batch config str": _pack([1, 4, PID, "t", "cfg", [[0, KEY, True, {}]]]),
    "batch items not array": _pack([1, 4, PID, "t", None, {}]),
    "batch extra field": _pack([1, 4, PID, "t", None, [[0, "default", b"x", {}]], 1]),
    "ext type": _pack([1, 3, PID, "t", msgpack.ExtType(5, b"zz")]),
    "timestamp ext": msgpack.packb([1, 3, PID, "t", msgpack.Timestamp(1, 0)], use_bin_type=True),
    "deep nesting": b"\x91" * 100_000,
    "huge declared length": b"\xdb\xff\xff\xff\xff",
}


@pytest.mark.parametrize("data", BAD_MESSAGES.values(), ids=BAD_MESSAGES.keys())
def test_bad_messages_raise_event_decode_error(data: bytes) -> None:
    with pytest.raises(EventDecodeError) as info:
        decode_event(data)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, StreamError)


@pytest.mark.parametrize(
    "data",
    [
        b"\x00",
        _pack([1, 2]),
        _pack(["n", "file", {}, "default", "16"]),
        _pack(["n", "file", [], "default", 16]),
        _pack(["n", "file", {}, "default", 16])[:-1],
    ],
)
def test_bad_store_configs_raise_event_decode_error(data: bytes) -> None:
    with pytest.raises(EventDecodeError):
        decode_store_config(data)


def test_encode_rejects_mixed_or_empty_batches() -> None:
    with pytest.raises(EventEncodeError):
        encode_event(BatchEvent(PID, "frames", ()))
    with pytest.raises(EventEncodeError):
        encode_event(BatchEvent(PID, "frames", (key_event(0), inline_event(1))))
    with pytest.raises(EventEncodeError):
        encode_event(BatchEvent(PID, "frames", (key_event(0), key_event(1, REDIS_CONFIG))))
    with pytest.raises(EventEncodeError):
        encode_event(BatchEvent(b"other", "frames", (key_event(0),)))
    with pytest.raises(EventEncodeError):
        encode_event("not an event")  # type: ignore[arg-type]


def test_check_metadata() -> None:
    assert check_metadata(None) == {}
    assert check_metadata({"a": [1, {"b": b"x"}]}) == {"a": [1, {"b": b"x"}]}
    import datetime

    for bad in ({"when": datetime.datetime.now()}, {1: "int key"}, {"o": object()}, [1]):
        with pytest.raises(EventEncodeError) as info:
            check_metadata(bad)  # type: ignore[arg-type]
        assert isinstance(info.value, TypeError)
