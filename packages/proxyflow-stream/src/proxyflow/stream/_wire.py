"""The wire format of `proxyflow.stream.events`, on plain values (the fast path).

The producer and the consumer use this module directly; the event dataclasses
of [`proxyflow.stream.events`][proxyflow.stream.events] are built on top of it for callers that want
objects. The layout is described in [`proxyflow.stream.events`][proxyflow.stream.events];
this module adds no format of its own, it only writes the same bytes with less
work:

* the fields that are the same for every event of a producer on a topic
  (array header, version, type, producer id, topic, packed store config) are
  packed once per topic (`TopicCodec`);
* metadata is validated and packed once, in ``send()``, and the packed bytes
  are spliced into the message (`pack_metadata`);
* an inline payload is written after a ``bin`` header built by hand, so a
  message is assembled with a single ``bytes.join`` (one copy of the payload,
  no growing msgpack buffer), from the pieces the serializer returns;
* a message of `ZERO_COPY_MIN` bytes or more holding one inline object is
  decoded without copying the payload: it comes back as a ``memoryview`` slice
  of the message.

msgpack packers are kept per thread (`packer`), since a packer is not
safe to share between threads.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import msgpack  # type: ignore[import-untyped]

from proxyflow.stream.exceptions import EventDecodeError, EventEncodeError

__all__ = [
    "BATCH",
    "END_OF_STREAM",
    "FORMAT_VERSION",
    "MAX_PRODUCER_ID_LEN",
    "NEW_OBJECT",
    "NEW_OBJECT_KEY",
    "ZERO_COPY_MIN",
    "Decoded",
    "TopicCodec",
    "decode",
    "pack",
    "pack_metadata",
    "packer",
    "unpack",
]

FORMAT_VERSION = 1
"""The wire format version written first in every message."""

MAX_PRODUCER_ID_LEN = 64
"""The longest producer id (in bytes) the wire format accepts."""

NEW_OBJECT = 1
NEW_OBJECT_KEY = 2
END_OF_STREAM = 3
BATCH = 4

ZERO_COPY_MIN = 256 * 1024
"""Messages from this size on have their inline payload decoded as a view (no copy).

Below it, unpacking the whole message (and copying the payload) is cheaper than
locating the payload first (measured crossover: 100-200 KiB).
"""

_PROBE = 4096
"""Bytes of a large message parsed to find where its inline payload starts."""

_TRUE = b"\xc3"
_FALSE = b"\xc2"
_NIL = b"\xc0"
_EMPTY_MAP = b"\x80"
_ITEM = b"\x94"  # fixarray of the 4 fields of a batch item
_MAX_BIN = 1 << 32

# Value types whose msgpack encoding always decodes back (with str keys).
_SCALARS = frozenset({str, int, float, bool, bytes, type(None)})

_local = threading.local()


def packer() -> Any:
    """Return this thread's msgpack packer (``bin`` for bytes, no datetime)."""
    try:
        return _local.packer
    except AttributeError:
        _local.packer = msgpack.Packer(use_bin_type=True, datetime=False)
        return _local.packer


def pack(value: Any) -> bytes:
    """Pack one value with this thread's packer.

    Raises:
        EventEncodeError: If msgpack cannot encode ``value``.
    """
    try:
        return packer().pack(value)  # type: ignore[no-any-return]
    except (TypeError, ValueError, OverflowError) as exc:
        raise EventEncodeError(f"cannot encode event field with msgpack: {exc}") from exc


def _reject_ext(code: int, data: bytes) -> Any:
    raise EventDecodeError(f"msgpack ext type {code} is not allowed in events")


def unpack(data: bytes | bytearray | memoryview) -> Any:
    """Unpack exactly one msgpack value, strictly.

    Raises:
        EventDecodeError: On bad or truncated msgpack, trailing bytes, ext
            types or non-string map keys.
    """
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            ext_hook=_reject_ext,
            timestamp=0,
        )
    except EventDecodeError:
        raise
    except Exception as exc:  # msgpack raises many unrelated classes
        raise EventDecodeError(f"not a valid msgpack message: {exc!r}") from exc


def pack_metadata(metadata: Mapping[str, Any] | None) -> tuple[dict[str, Any], bytes]:
    """Validate metadata the way a consumer will decode it and pack it once.

    A ``str``-keyed dict of scalars (``str``, ``int``, ``float``, ``bool``,
    ``bytes``, ``None``) is known to decode back once msgpack packed it; other
    metadata is also unpacked again to prove it.

    Args:
        metadata: User metadata, or ``None`` for none.

    Returns:
        A copy of the metadata as a ``dict`` and its msgpack bytes.

    Raises:
        EventEncodeError: If it is not a mapping of msgpack values that decode back.
    """
    if metadata is None:
        return {}, _EMPTY_MAP
    if not isinstance(metadata, Mapping):
        raise EventEncodeError(f"metadata must be a mapping, not {type(metadata).__name__}")
    as_dict = dict(metadata)
    if not as_dict:
        return as_dict, _EMPTY_MAP
    packed = pack(as_dict)
    for key, value in as_dict.items():
        if type(key) is not str or type(value) not in _SCALARS:
            try:
                unpack(packed)
            except EventDecodeError as exc:
                raise EventEncodeError(f"metadata would not decode: {exc}") from exc
            break
    return as_dict, packed


def _bin_header(size: int) -> bytes:
    if size < 0x100:
        return bytes((0xC4, size))
    if size < 0x10000:
        return b"\xc5" + size.to_bytes(2, "big")
    if size < _MAX_BIN:
        return b"\xc6" + size.to_bytes(4, "big")
    raise EventEncodeError(f"an inline payload is limited to 4 GiB, got {size} bytes")


def _size(parts: Sequence[bytes | bytearray | memoryview]) -> int:
    return sum(part.nbytes if type(part) is memoryview else len(part) for part in parts)


class TopicCodec:
    """Writes the messages of one producer on one topic, with the constant fields packed once.

    Args:
        producer_id: The producer id (1 to 64 bytes).
        topic: The topic.
        store_config: The packed store config of the topic's store, or
            ``None`` when objects travel inline.

    Example:
        ```python
        from proxyflow.stream._wire import TopicCodec, decode

        codec = TopicCodec(b"producer", "t", None)
        message = codec.end_of_stream(0)
        assert decode(message)[0] == 3
        ```
    """

    __slots__ = ("_batch_head", "_config", "_eos_head", "_inline_head", "_key_head")

    def __init__(self, producer_id: bytes, topic: str, store_config: bytes | None) -> None:
        tail = pack(producer_id) + pack(topic)
        version = pack(FORMAT_VERSION)
        self._key_head = b"\x99" + version + pack(NEW_OBJECT_KEY) + tail
        self._inline_head = b"\x98" + version + pack(NEW_OBJECT) + tail
        self._eos_head = b"\x95" + version + pack(END_OF_STREAM) + tail
        self._config = _NIL if store_config is None else pack(store_config)
        self._batch_head = b"\x96" + version + pack(BATCH) + tail + self._config

    def key_event(self, seq: int, key: Any, evict: bool, metadata: bytes) -> bytes:
        """Return a ``NewObjectKeyEvent`` message; ``metadata`` is packed.

        Raises:
            EventEncodeError: If msgpack cannot encode ``key``.
        """
        pk = packer().pack
        try:
            return b"".join(
                (
                    self._key_head,
                    pk(seq),
                    self._config,
                    pk(key),
                    _TRUE if evict else _FALSE,
                    metadata,
                )
            )
        except (TypeError, ValueError, OverflowError) as exc:
            raise EventEncodeError(f"cannot encode store key {key!r}: {exc}") from exc

    def inline_event(
        self,
        seq: int,
        serializer: str,
        payload: Sequence[bytes | bytearray | memoryview],
        metadata: bytes,
    ) -> bytes:
        """Return a ``NewObjectEvent`` message.

        Args:
            seq: The sequence number.
            serializer: The serializer name.
            payload: The serialized object as flat pieces (joined on the wire).
            metadata: The packed metadata.
        """
        pk = packer().pack
        return b"".join(
            (
                self._inline_head,
                pk(seq),
                pk(serializer),
                _bin_header(_size(payload)),
                *payload,
                metadata,
            )
        )

    def end_of_stream(self, seq: int) -> bytes:
        """Return an ``EndOfStreamEvent`` message."""
        return self._eos_head + pack(seq)

    def key_batch(self, items: Sequence[tuple[int, Any, bool, bytes]]) -> bytes:
        """Return a ``BatchEvent`` message of ``(seq, key, evict, packed metadata)`` items.

        Raises:
            EventEncodeError: If msgpack cannot encode a key.
        """
        pk = packer()
        chunks = [self._batch_head, pk.pack_array_header(len(items))]
        try:
            for seq, key, evict, metadata in items:
                chunks += (_ITEM, pk.pack(seq), pk.pack(key), _TRUE if evict else _FALSE, metadata)
        except (TypeError, ValueError, OverflowError) as exc:
            raise EventEncodeError(f"cannot encode store key: {exc}") from exc
        return b"".join(chunks)

    def inline_batch(
        self,
        serializer: str,
        items: Sequence[tuple[int, Sequence[bytes | bytearray | memoryview], bytes]],
    ) -> bytes:
        """Return a ``BatchEvent`` message of ``(seq, payload pieces, packed metadata)`` items."""
        pk = packer()
        name = pk.pack(serializer)
        chunks = [self._batch_head, pk.pack_array_header(len(items))]
        for seq, payload, metadata in items:
            chunks += (_ITEM, pk.pack(seq), name, _bin_header(_size(payload)), *payload, metadata)
        return b"".join(chunks)


Decoded = tuple[int, bytes, str, "bytes | None", list[list[Any]], int]
"""``(type, producer id, topic, store config, items, end-of-stream seq)``.

``items`` holds one ``[seq, key, evict, metadata]`` (stored) or ``[seq,
serializer, payload, metadata]`` (inline) list per object, in order: one for
a single-object event, none for end of stream. ``store config`` is ``None``
for inline objects; the last field is the sequence number of an
end-of-stream event (``-1`` otherwise).
"""


def _seq(seq: Any) -> int:
    if type(seq) is not int or seq < 0:
        raise EventDecodeError("sequence number must be a non-negative int")
    return seq


def _check_stored(item: list[Any]) -> list[Any]:
    seq, key, evict, metadata = item
    _seq(seq)
    if key is None or isinstance(key, (dict, bool)):
        raise EventDecodeError("store key must be a str, int, bytes or array")
    if not isinstance(evict, bool):
        raise EventDecodeError("evict flag must be a bool")
    if not isinstance(metadata, dict):
        raise EventDecodeError("metadata must be a map")
    return item


def _check_inline(item: list[Any]) -> list[Any]:
    seq, serializer, payload, metadata = item
    _seq(seq)
    if not isinstance(serializer, str) or not isinstance(payload, (bytes, memoryview)):
        raise EventDecodeError("inline events need a str serializer and a bin payload")
    if not isinstance(metadata, dict):
        raise EventDecodeError("metadata must be a map")
    return item


def _large_inline(view: memoryview) -> list[Any] | None:
    """Parse a single inline event without copying its payload; ``None`` if it is not one.

    Anything unexpected returns ``None`` so that the strict full decode reports it.
    """
    unpacker = msgpack.Unpacker(
        raw=False, use_list=True, strict_map_key=True, ext_hook=_reject_ext, timestamp=0
    )
    unpacker.feed(view[:_PROBE])
    try:
        if unpacker.read_array_header() != 8:
            return None
        head = [unpacker.unpack() for _ in range(6)]
        start = unpacker.tell()
    except Exception:  # OutOfData or anything malformed: let the full decode judge
        return None
    code = head[1]
    if type(code) is not int or code != NEW_OBJECT:
        return None
    marker = view[start]
    if marker == 0xC4:
        width = 1
    elif marker == 0xC5:
        width = 2
    elif marker == 0xC6:
        width = 4
    else:
        return None
    begin = start + 1 + width
    end = begin + int.from_bytes(view[start + 1 : begin], "big")
    if end > len(view):
        return None
    head += (view[begin:end], unpack(view[end:]))
    return head


def decode(data: bytes | bytearray | memoryview) -> Decoded:
    """Decode and validate one message.

    Raises:
        EventDecodeError: If ``data`` is not a valid version-1 event.
    """
    fields: Any = None
    if len(data) >= ZERO_COPY_MIN:
        view = memoryview(data)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
        fields = _large_inline(view)
    if fields is None:
        fields = unpack(data)
    if type(fields) is not list or len(fields) < 4:
        raise EventDecodeError("an event must be an array of at least 4 fields")
    version, code, pid, topic = fields[0], fields[1], fields[2], fields[3]
    if type(version) is not int or version != FORMAT_VERSION:
        raise EventDecodeError(f"unknown event format version {version!r}")
    if type(pid) is not bytes or not 0 < len(pid) <= MAX_PRODUCER_ID_LEN:
        raise EventDecodeError("producer id must be 1 to 64 bytes of bin")
    if type(topic) is not str:
        raise EventDecodeError("topic must be a str")
    if type(code) is int:
        if code == NEW_OBJECT_KEY:
            if len(fields) != 9:
                raise EventDecodeError("key event has the wrong number of fields")
            config = fields[5]
            if type(config) is not bytes:
                raise EventDecodeError("store config must be bin")
            item = _check_stored([fields[4], fields[6], fields[7], fields[8]])
            return NEW_OBJECT_KEY, pid, topic, config, [item], -1
        if code == NEW_OBJECT:
            if len(fields) != 8:
                raise EventDecodeError("inline event has the wrong number of fields")
            return NEW_OBJECT, pid, topic, None, [_check_inline(fields[4:])], -1
        if code == END_OF_STREAM:
            if len(fields) != 5:
                raise EventDecodeError("end-of-stream event has the wrong number of fields")
            return END_OF_STREAM, pid, topic, None, [], _seq(fields[4])
        if code == BATCH:
            return _batch(pid, topic, fields)
    raise EventDecodeError(f"unknown event type {code!r}")


def _batch(pid: bytes, topic: str, fields: list[Any]) -> Decoded:
    if len(fields) != 6:
        raise EventDecodeError("batch event has the wrong number of fields")
    config, items = fields[4], fields[5]
    if type(items) is not list or not items:
        raise EventDecodeError("batch event needs a non-empty array of items")
    if config is not None and type(config) is not bytes:
        raise EventDecodeError("batch store config must be bin or nil")
    check = _check_inline if config is None else _check_stored
    for item in items:
        if type(item) is not list or len(item) != 4:
            raise EventDecodeError("batch item must be an array of 4 fields")
        check(item)
    return BATCH, pid, topic, config, items, -1
