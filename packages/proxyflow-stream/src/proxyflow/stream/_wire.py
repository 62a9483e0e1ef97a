"""The wire format's single encoder: event codes, msgpack helpers, store configs, `TopicCodec`.

Everything that writes the bytes of an event lives here, and
[`proxyflow.stream._decode`][proxyflow.stream._decode] is its reader. The
layout is described in [`proxyflow.stream.events`][proxyflow.stream.events],
whose `encode_event` builds on `TopicCodec` as the producer does, so the
format has one writer. The writer does little work per event:

* the fields that are the same for every event of a producer on a topic
  (array header, version, type, producer id, topic, packed store config) are
  packed once per topic (`TopicCodec`);
* metadata is validated and packed once, in ``send()``, and the packed bytes
  are spliced into the message (`pack_metadata`);
* an inline payload is written after a ``bin`` header built by hand, so a
  message is assembled with a single ``bytes.join`` (one copy of the payload,
  no growing msgpack buffer), from the pieces the serializer returns.

The bytes are identical to what ``msgpack.packb`` writes for the same array.
msgpack packers are kept per thread (`packer`), since a packer is not safe to
share between threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from enum import IntEnum
from typing import Any

import msgpack  # type: ignore[import-untyped]

from proxyflow.store import StoreConfig
from proxyflow.stream.exceptions import EventDecodeError, EventEncodeError

__all__ = [
    "FORMAT_VERSION",
    "MAX_PRODUCER_ID_LEN",
    "EventType",
    "TopicCodec",
    "decode_store_config",
    "encode_store_config",
    "pack",
    "pack_metadata",
    "packer",
    "unpack",
    "unpacker",
]

FORMAT_VERSION = 1
"""The wire format version written first in every message."""

MAX_PRODUCER_ID_LEN = 64
"""The longest producer id (in bytes) the wire format accepts."""


class EventType(IntEnum):
    """The event type code, the second element of every message."""

    NEW_OBJECT = 1
    """An object carried inline ([`NewObjectEvent`][proxyflow.stream.events.NewObjectEvent])."""
    NEW_OBJECT_KEY = 2
    """A stored object's key ([`NewObjectKeyEvent`][proxyflow.stream.events.NewObjectKeyEvent])."""
    END_OF_STREAM = 3
    """A topic ended ([`EndOfStreamEvent`][proxyflow.stream.events.EndOfStreamEvent])."""
    BATCH = 4
    """Several object events of one flush ([`BatchEvent`][proxyflow.stream.events.BatchEvent])."""
    SIGNED = 5
    """An event authenticated with a signing key, wrapped with its MAC (see ``_signing``)."""


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


def unpacker() -> Any:
    """Return a new streaming msgpack unpacker with the strict options of `unpack`."""
    return msgpack.Unpacker(
        raw=False, use_list=True, strict_map_key=True, ext_hook=_reject_ext, timestamp=0
    )


def unpack(data: bytes | bytearray | memoryview) -> Any:
    """Unpack exactly one msgpack value, strictly: str keys only, no ext types, lists for arrays.

    Raises:
        EventDecodeError: On bad or truncated msgpack, trailing bytes, ext
            types or non-string map keys.
    """
    try:
        # Literal keywords: a ``**options`` dict would be copied on every call.
        return msgpack.unpackb(
            data, raw=False, use_list=True, strict_map_key=True, ext_hook=_reject_ext, timestamp=0
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


# -- store configs ----------------------------------------------------------------------------

_STORE_CONFIG_FIELDS: tuple[tuple[str, type], ...] = (
    ("name", str),
    ("connector", str),
    ("options", dict),
    ("serializer", str),
    ("cache_size", int),
)
"""The packed store config: a msgpack array of these `StoreConfig` fields, in this order."""


def encode_store_config(config: StoreConfig) -> bytes:
    """Pack a store config into the compact bytes that events carry.

    Call it once per store and reuse the bytes: the producer does.

    Args:
        config: The store's config (``store.config()``).

    Returns:
        msgpack bytes of ``[name, connector, options, serializer, cache_size]``.

    Raises:
        EventEncodeError: If the options are not msgpack-serializable.
    """
    values = [getattr(config, name) for name, _ in _STORE_CONFIG_FIELDS]
    values[2] = dict(values[2])  # options: any mapping, packed as a map
    return pack(values)


def decode_store_config(data: bytes | bytearray | memoryview) -> StoreConfig:
    """Unpack bytes made by [`encode_store_config`][proxyflow.stream.events.encode_store_config].

    Args:
        data: The packed config.

    Returns:
        The store config.

    Raises:
        EventDecodeError: If the bytes are not a valid packed config.
    """
    fields = unpack(data)
    if not (isinstance(fields, list) and len(fields) == len(_STORE_CONFIG_FIELDS)):
        raise EventDecodeError(
            f"store config must be an array of {len(_STORE_CONFIG_FIELDS)} fields"
        )
    values: dict[str, Any] = {}
    for value, (name, kind) in zip(fields, _STORE_CONFIG_FIELDS, strict=True):
        if type(value) is not kind:
            raise EventDecodeError(f"store config field {name!r} must be a {kind.__name__}")
        values[name] = value
    try:
        return StoreConfig(**values)
    except Exception as exc:
        raise EventDecodeError(f"invalid store config: {exc}") from exc


# -- messages ---------------------------------------------------------------------------------


def _bin_header(size: int) -> bytes:
    if size < 0x100:
        return bytes((0xC4, size))
    if size < 0x10000:
        return b"\xc5" + size.to_bytes(2, "big")
    if size < _MAX_BIN:
        return b"\xc6" + size.to_bytes(4, "big")
    raise EventEncodeError(f"an inline payload is limited to 4 GiB, got {size} bytes")


def _size(parts: Iterable[bytes | bytearray | memoryview]) -> int:
    return sum(part.nbytes if type(part) is memoryview else len(part) for part in parts)


def _head(length: int, kind: EventType, tail: bytes) -> bytes:
    """The fixarray header, version and type code, then ``tail`` (producer id, topic)."""
    return bytes((0x90 | length,)) + pack(FORMAT_VERSION) + pack(int(kind)) + tail


class TopicCodec:
    """Writes every message of one producer on one topic, with the constant fields packed once.

    Args:
        producer_id: The producer id (1 to 64 bytes).
        topic: The topic.
        store_config: The packed store config of the topic's store, or
            ``None`` when objects travel inline.

    Raises:
        EventEncodeError: If the producer id is not 1 to 64 bytes.

    Example:
        ```python
        from proxyflow.stream._decode import EndOfStream, decode
        from proxyflow.stream._wire import TopicCodec

        codec = TopicCodec(b"producer", "t", None)
        assert decode(codec.end_of_stream(0)) == EndOfStream(b"producer", "t", 0)
        ```
    """

    __slots__ = ("_batch_head", "_config", "_eos_head", "_inline_head", "_key_head")

    def __init__(self, producer_id: bytes, topic: str, store_config: bytes | None) -> None:
        if type(producer_id) is not bytes or not 0 < len(producer_id) <= MAX_PRODUCER_ID_LEN:
            raise EventEncodeError(f"producer id must be 1 to {MAX_PRODUCER_ID_LEN} bytes")
        tail = pack(producer_id) + pack(topic)
        self._key_head = _head(9, EventType.NEW_OBJECT_KEY, tail)
        self._inline_head = _head(8, EventType.NEW_OBJECT, tail)
        self._eos_head = _head(5, EventType.END_OF_STREAM, tail)
        self._config = _NIL if store_config is None else pack(store_config)
        self._batch_head = _head(6, EventType.BATCH, tail) + self._config

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

    def key_batch(
        self,
        seqs: Iterable[int],
        keys: Sequence[Any],
        evicts: Iterable[bool],
        metadatas: Iterable[bytes],
    ) -> bytes:
        """Return a ``BatchEvent`` message of stored objects, given field by field.

        Args:
            seqs: The sequence numbers, one per object.
            keys: The store keys.
            evicts: The evict flags.
            metadatas: The packed metadata of each object.

        Raises:
            EventEncodeError: If msgpack cannot encode a key, or the
                sequences differ in length.
        """
        pk = packer()
        chunks = [self._batch_head, pk.pack_array_header(len(keys))]
        try:
            for seq, key, evict, metadata in zip(seqs, keys, evicts, metadatas, strict=True):
                chunks += (_ITEM, pk.pack(seq), pk.pack(key), _TRUE if evict else _FALSE, metadata)
        except (TypeError, ValueError, OverflowError) as exc:
            raise EventEncodeError(f"cannot encode store key: {exc}") from exc
        return b"".join(chunks)

    def inline_batch(
        self,
        seqs: Iterable[int],
        serializer: str | Sequence[str],
        payloads: Sequence[Sequence[bytes | bytearray | memoryview]],
        metadatas: Iterable[bytes],
    ) -> bytes:
        """Return a ``BatchEvent`` message of inline objects, given field by field.

        Args:
            seqs: The sequence numbers, one per object.
            serializer: The serializer name of every object, or one name per object.
            payloads: Each serialized object as flat pieces.
            metadatas: The packed metadata of each object.

        Raises:
            EventEncodeError: If the sequences differ in length.
        """
        pk = packer()
        names = (
            [pk.pack(serializer)] * len(payloads)
            if isinstance(serializer, str)
            else [pk.pack(name) for name in serializer]
        )
        chunks = [self._batch_head, pk.pack_array_header(len(payloads))]
        try:
            for seq, name, payload, metadata in zip(seqs, names, payloads, metadatas, strict=True):
                chunks += (
                    _ITEM,
                    pk.pack(seq),
                    name,
                    _bin_header(_size(payload)),
                    *payload,
                    metadata,
                )
        except ValueError as exc:
            raise EventEncodeError(f"cannot encode inline batch: {exc}") from exc
        return b"".join(chunks)
