"""The wire format's single decoder: a message becomes one named record (`DecodedEvent`).

The consumer reads every message through `decode`, and
[`decode_event`][proxyflow.stream.events.decode_event] turns the same records
into event dataclasses. Decoding is strict (see
[`proxyflow.stream.events`][proxyflow.stream.events]) and quick:

* a message becomes one named tuple: the `StoredItem` or `InlineItem` of a
  single-object event, a `Batch` of them, or an `EndOfStream`; every item
  carries its producer id, topic and sequence number, and is built straight
  from the list msgpack returned;
* a message of `ZERO_COPY_MIN` bytes or more holding one inline object is
  decoded without copying the payload: it comes back as a ``memoryview``
  slice of the message.
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypeAlias

from proxyflow.stream._wire import (
    FORMAT_VERSION,
    MAX_PRODUCER_ID_LEN,
    EventType,
    unpack,
    unpacker,
)
from proxyflow.stream.exceptions import EventDecodeError

__all__ = [
    "ZERO_COPY_MIN",
    "Batch",
    "DecodedEvent",
    "EndOfStream",
    "InlineItem",
    "Item",
    "StoredItem",
    "decode",
]

ZERO_COPY_MIN = 256 * 1024
"""Messages from this size on have their inline payload decoded as a view (no copy).

Below it, unpacking the whole message (and copying the payload) is cheaper than
locating the payload first (measured crossover: 100-200 KiB).
"""

_PROBE = 4096
"""Bytes of a large message parsed to find where its inline payload starts."""

_new = tuple.__new__  # builds a named tuple from a sequence without a Python-level call


class StoredItem(NamedTuple):
    """One object kept in a store, as an event announces it.

    It is also the decoded form of a single-object key event. Its producer
    id, topic and sequence number are the seam for what is decided per
    producer: gap detection, a trust policy for the store its config points
    at, and (on an acknowledging broker) the delivery to settle.

    Attributes:
        seq: The producer's sequence number for it on the topic.
        key: Its key in the store.
        evict: Whether reading it removes it from the store.
        metadata: The user metadata sent with it.
        producer_id: The sending producer's id.
        topic: The topic it was sent on.
        store_config: The packed config of its store.
        digest: The content digest of its stored bytes, from a signed event
            whose signature was checked; ``None`` otherwise.
    """

    seq: int
    key: Any
    evict: bool
    metadata: dict[str, Any]
    producer_id: bytes
    topic: str
    store_config: bytes
    digest: bytes | None = None


class InlineItem(NamedTuple):
    """One object carried inside an event; also the decoded form of a single inline event.

    Attributes:
        seq: The producer's sequence number for it on the topic.
        serializer: The name of the serializer that made ``payload``.
        payload: The serialized object (a memoryview of a large message).
        metadata: The user metadata sent with it.
        producer_id: The sending producer's id.
        topic: The topic it was sent on.
    """

    seq: int
    serializer: str
    payload: bytes | memoryview
    metadata: dict[str, Any]
    producer_id: bytes
    topic: str


Item: TypeAlias = StoredItem | InlineItem
"""One object of a stream, stored or inline."""


class Batch(NamedTuple):
    """A decoded batch event: several objects of one flush.

    Attributes:
        producer_id: The sending producer's id.
        topic: The topic it was sent on.
        store_config: The packed config of the objects' store, or ``None``
            when they travel inline.
        items: The objects, in order (never empty).
    """

    producer_id: bytes
    topic: str
    store_config: bytes | None
    items: list[Item]


class EndOfStream(NamedTuple):
    """A decoded end-of-stream event.

    Attributes:
        producer_id: The producer whose stream ended.
        topic: The topic that ended for it.
        seq: The producer's sequence number for this event.
    """

    producer_id: bytes
    topic: str
    seq: int


DecodedEvent: TypeAlias = StoredItem | InlineItem | Batch | EndOfStream
"""What one message decodes to: a single object, a batch or an end of stream."""

_NEW_OBJECT = int(EventType.NEW_OBJECT)
_NEW_OBJECT_KEY = int(EventType.NEW_OBJECT_KEY)
_END_OF_STREAM = int(EventType.END_OF_STREAM)
_BATCH = int(EventType.BATCH)
_SIGNED = int(EventType.SIGNED)
SIGNED_HEAD = bytes((0x95, FORMAT_VERSION, _SIGNED))
"""The first bytes of every signed message (a 5-field array, version, type code)."""


def _seq(seq: Any) -> int:
    if type(seq) is not int or seq < 0:
        raise EventDecodeError("sequence number must be a non-negative int")
    return seq


def _check_stored(seq: Any, key: Any, evict: Any, metadata: Any) -> None:
    """Validate the fields of a stored item (of a single event or a batch)."""
    if type(seq) is not int or seq < 0:
        raise EventDecodeError("sequence number must be a non-negative int")
    if key is None or isinstance(key, (dict, bool)):
        raise EventDecodeError("store key must be a str, int, bytes or array")
    if type(evict) is not bool:
        raise EventDecodeError("evict flag must be a bool")
    if type(metadata) is not dict:
        raise EventDecodeError("metadata must be a map")


def _check_inline(seq: Any, serializer: Any, payload: Any, metadata: Any) -> None:
    """Validate the fields of an inline item (of a single event or a batch)."""
    if type(seq) is not int or seq < 0:
        raise EventDecodeError("sequence number must be a non-negative int")
    if type(serializer) is not str or not isinstance(payload, (bytes, memoryview)):
        raise EventDecodeError("inline events need a str serializer and a bin payload")
    if type(metadata) is not dict:
        raise EventDecodeError("metadata must be a map")


def _large_inline(view: memoryview) -> list[Any] | None:
    """Parse a single inline event without copying its payload; ``None`` if it is not one.

    Anything unexpected returns ``None`` so that the strict full decode reports it.
    """
    reader = unpacker()
    reader.feed(view[:_PROBE])
    try:
        if reader.read_array_header() != 8:
            return None
        head = [reader.unpack() for _ in range(6)]
        start = reader.tell()
    except Exception:  # OutOfData or anything malformed: let the full decode judge
        return None
    code = head[1]
    if type(code) is not int or code != _NEW_OBJECT:
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


def decode(data: bytes | bytearray | memoryview) -> DecodedEvent:
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
        if code == _SIGNED and type(code) is int:  # its 4th field is bin or nil: off the hot path
            return _signed_body(fields)
        raise EventDecodeError("topic must be a str")
    if type(code) is int:
        if code == _NEW_OBJECT_KEY:
            if len(fields) != 9:
                raise EventDecodeError("key event has the wrong number of fields")
            _, _, _, _, seq, config, key, evict, metadata = fields
            if type(config) is not bytes:
                raise EventDecodeError("store config must be bin")
            _check_stored(seq, key, evict, metadata)
            return _new(StoredItem, (seq, key, evict, metadata, pid, topic, config, None))
        if code == _NEW_OBJECT:
            if len(fields) != 8:
                raise EventDecodeError("inline event has the wrong number of fields")
            _, _, _, _, seq, serializer, payload, metadata = fields
            _check_inline(seq, serializer, payload, metadata)
            return _new(InlineItem, (seq, serializer, payload, metadata, pid, topic))
        if code == _END_OF_STREAM:
            if len(fields) != 5:
                raise EventDecodeError("end-of-stream event has the wrong number of fields")
            return _new(EndOfStream, (pid, topic, _seq(fields[4])))
        if code == _BATCH:
            return _batch(pid, topic, fields)
    raise EventDecodeError(f"unknown event type {code!r}")


def _signed_body(fields: list[Any]) -> DecodedEvent:
    """Decode the event inside a signed message, without checking its signature.

    What a consumer without a signing key does: its trust policy applies as
    for any unsigned event, and the digests are ignored.
    """
    if len(fields) != 5 or type(fields[4]) is not bytes:
        raise EventDecodeError("signed event has the wrong fields")
    body = fields[4]
    if body[:3] == SIGNED_HEAD:
        raise EventDecodeError("a signed event cannot hold another signed event")
    return decode(body)


def _batch(pid: bytes, topic: str, fields: list[Any]) -> Batch:
    if len(fields) != 6:
        raise EventDecodeError("batch event has the wrong number of fields")
    config, raw = fields[4], fields[5]
    if type(raw) is not list or not raw:
        raise EventDecodeError("batch event needs a non-empty array of items")
    if config is not None and type(config) is not bytes:
        raise EventDecodeError("batch store config must be bin or nil")
    items: list[Item] = []
    append = items.append
    for fields_of_item in raw:
        if type(fields_of_item) is not list or len(fields_of_item) != 4:
            raise EventDecodeError("batch item must be an array of 4 fields")
        if config is None:
            seq, serializer, payload, metadata = fields_of_item
            _check_inline(seq, serializer, payload, metadata)
            append(_new(InlineItem, (seq, serializer, payload, metadata, pid, topic)))
        else:
            seq, key, evict, metadata = fields_of_item
            _check_stored(seq, key, evict, metadata)
            append(_new(StoredItem, (seq, key, evict, metadata, pid, topic, config, None)))
    return _new(Batch, (pid, topic, config, items))
