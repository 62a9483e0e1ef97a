r"""Stream events and their wire format.

An event is what a producer publishes on a topic: an object sent inline
(:class:`NewObjectEvent`), a reference to an object in a store
(:class:`NewObjectKeyEvent`), the end of a producer's stream on a topic
(:class:`EndOfStreamEvent`), or several object events of one flush
(:class:`BatchEvent`).

Wire format (version 1): one msgpack **array**, never a map, with no pickle, no
ext types and no import paths. Every message starts with the format version and
an event type code, then the producer id (bin, 1 to 64 bytes), the topic (str):

```text
NewObjectEvent      [1, 1, producer_id, topic, seq, serializer, payload, metadata]
NewObjectKeyEvent   [1, 2, producer_id, topic, seq, store_config, key, evict, metadata]
EndOfStreamEvent    [1, 3, producer_id, topic, seq]
BatchEvent          [1, 4, producer_id, topic, store_config | nil, [item, ...]]
  item (stored)     [seq, key, evict, metadata]        when store_config is bin
  item (inline)     [seq, serializer, payload, metadata] when store_config is nil
```

* ``seq`` is the producer's per-topic sequence number (uint, from 0, one per
  object event and one for the end-of-stream event). Together with the
  producer id it identifies an event: the seam for future acknowledgements
  (``Subscriber.ack``) and gap detection, neither implemented yet.
* ``payload`` is the object serialized by the serializer registered under
  ``serializer`` in :mod:`proxyflow.serialize` (``"default"`` normally),
  carried as msgpack bin.
* ``store_config`` is the store's :class:`~proxyflow.store.StoreConfig`
  packed once by :func:`encode_store_config` into a small msgpack array
  ``[name, connector, options, serializer, cache_size]`` and carried as
  opaque bin. The producer caches these bytes per store and the consumer
  caches what it built from them keyed by the bytes, so per-event cost stays a
  byte copy.
* ``metadata`` is a ``str``-keyed map of msgpack values (``{}`` when none).

Decoding is strict: anything else (bad msgpack, truncation, trailing bytes,
wrong field types, unknown version or type) raises
:class:`~proxyflow.stream.exceptions.EventDecodeError`.

Example:
    ```python
    from proxyflow.stream.events import EndOfStreamEvent, decode_event, encode_event

    event = EndOfStreamEvent(producer_id=b"\x01" * 8, topic="t", seq=3)
    assert decode_event(encode_event(event)) == event
    ```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, TypeAlias

import msgpack  # type: ignore[import-untyped]

from proxyflow.store import StoreConfig
from proxyflow.stream.exceptions import EventDecodeError, EventEncodeError

__all__ = [
    "FORMAT_VERSION",
    "MAX_PRODUCER_ID_LEN",
    "BatchEvent",
    "EndOfStreamEvent",
    "Event",
    "EventType",
    "NewObjectEvent",
    "NewObjectKeyEvent",
    "ObjectEvent",
    "check_metadata",
    "decode_event",
    "decode_store_config",
    "encode_event",
    "encode_store_config",
]

FORMAT_VERSION = 1
"""The wire format version written first in every message."""

MAX_PRODUCER_ID_LEN = 64
"""The longest producer id (in bytes) the wire format accepts."""


class EventType(IntEnum):
    """The event type code, the second element of every message."""

    NEW_OBJECT = 1
    """An object carried inline (:class:`NewObjectEvent`)."""
    NEW_OBJECT_KEY = 2
    """A reference to a stored object (:class:`NewObjectKeyEvent`)."""
    END_OF_STREAM = 3
    """A producer finished a topic (:class:`EndOfStreamEvent`)."""
    BATCH = 4
    """Several object events of one flush (:class:`BatchEvent`)."""


@dataclass(frozen=True)
class NewObjectEvent:
    """An object sent inline, inside the event itself (for small objects).

    Attributes:
        producer_id: The sending producer's id (1 to 64 bytes).
        topic: The topic the event was sent on.
        seq: The producer's sequence number for this event on ``topic``.
        serializer: The name of the serializer that made ``payload``.
        payload: The serialized object.
        metadata: User metadata given to ``send()`` (``{}`` when none).
    """

    producer_id: bytes
    topic: str
    seq: int
    serializer: str
    payload: bytes
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewObjectKeyEvent:
    """A reference to an object the producer put into a store.

    Attributes:
        producer_id: The sending producer's id (1 to 64 bytes).
        topic: The topic the event was sent on.
        seq: The producer's sequence number for this event on ``topic``.
        store_config: The store's config packed by :func:`encode_store_config`;
            a consumer finds or rebuilds the store from it.
        key: The object's key in that store (small, JSON-serializable).
        evict: Whether the object is removed from the store when it is read.
        metadata: User metadata given to ``send()`` (``{}`` when none).
    """

    producer_id: bytes
    topic: str
    seq: int
    store_config: bytes
    key: Any
    evict: bool
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EndOfStreamEvent:
    """A producer will send nothing more on ``topic``.

    Attributes:
        producer_id: The sending producer's id (1 to 64 bytes).
        topic: The topic that ended for this producer.
        seq: The producer's sequence number for this event on ``topic``.
    """

    producer_id: bytes
    topic: str
    seq: int


ObjectEvent: TypeAlias = NewObjectEvent | NewObjectKeyEvent
"""An event that carries or references one object."""


@dataclass(frozen=True)
class BatchEvent:
    """Several object events published as one message.

    All events share the batch's producer id and topic, and are either all
    inline or all stored in the same store (same ``store_config``). Consumers
    yield them one by one, in order.

    Attributes:
        producer_id: The sending producer's id.
        topic: The topic of every event in the batch.
        events: The object events, in sequence order; never empty.
    """

    producer_id: bytes
    topic: str
    events: tuple[ObjectEvent, ...]


Event: TypeAlias = NewObjectEvent | NewObjectKeyEvent | EndOfStreamEvent | BatchEvent
"""Any event a message can hold."""


def _reject_ext(code: int, data: bytes) -> Any:
    raise EventDecodeError(f"msgpack ext type {code} is not allowed in events")


def _packb(value: Any) -> bytes:
    try:
        return msgpack.packb(value, use_bin_type=True, datetime=False)  # type: ignore[no-any-return]
    except (TypeError, ValueError, OverflowError) as exc:
        raise EventEncodeError(f"cannot encode event field with msgpack: {exc}") from exc


def _unpackb(data: bytes | bytearray | memoryview) -> Any:
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


def check_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate metadata the way a consumer will decode it; return it as a ``dict``.

    Args:
        metadata: User metadata, or ``None`` for none.

    Returns:
        The metadata as a plain ``dict`` (``{}`` for ``None``).

    Raises:
        EventEncodeError: If it is not a ``str``-keyed mapping of msgpack values
            that decode back (for example a ``datetime`` or an ``int`` key).
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise EventEncodeError(f"metadata must be a mapping, not {type(metadata).__name__}")
    as_dict = dict(metadata)
    if not as_dict:
        return as_dict
    try:
        _unpackb(_packb(as_dict))
    except EventDecodeError as exc:
        raise EventEncodeError(f"metadata would not decode: {exc}") from exc
    return as_dict


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
    return _packb(
        [
            config.name,
            config.connector,
            dict(config.options),
            config.serializer,
            config.cache_size,
        ]
    )


def decode_store_config(data: bytes | bytearray | memoryview) -> StoreConfig:
    """Unpack bytes made by :func:`encode_store_config`.

    Args:
        data: The packed config.

    Returns:
        The store config.

    Raises:
        EventDecodeError: If the bytes are not a valid packed config.
    """
    fields = _unpackb(data)
    if not (isinstance(fields, list) and len(fields) == 5):
        raise EventDecodeError("store config must be an array of 5 fields")
    name, connector, options, serializer, cache_size = fields
    if not (
        isinstance(name, str)
        and isinstance(connector, str)
        and isinstance(options, dict)
        and isinstance(serializer, str)
        and type(cache_size) is int
    ):
        raise EventDecodeError("store config fields have the wrong types")
    try:
        return StoreConfig(
            name=name,
            connector=connector,
            options=options,
            serializer=serializer,
            cache_size=cache_size,
        )
    except Exception as exc:
        raise EventDecodeError(f"invalid store config: {exc}") from exc


def _item_fields(event: ObjectEvent) -> list[Any]:
    if isinstance(event, NewObjectKeyEvent):
        return [event.seq, event.key, event.evict, event.metadata]
    return [event.seq, event.serializer, event.payload, event.metadata]


def _encode_batch(event: BatchEvent) -> bytes:
    events = event.events
    if not events:
        raise EventEncodeError("a batch event needs at least one event")
    first = events[0]
    config = first.store_config if isinstance(first, NewObjectKeyEvent) else None
    for item in events:
        if item.producer_id != event.producer_id or item.topic != event.topic:
            raise EventEncodeError("batched events must share the batch's producer id and topic")
        item_config = item.store_config if isinstance(item, NewObjectKeyEvent) else None
        if item_config != config:
            raise EventEncodeError("batched events must all be inline or share one store config")
    return _packb(
        [
            FORMAT_VERSION,
            EventType.BATCH,
            event.producer_id,
            event.topic,
            config,
            [_item_fields(item) for item in events],
        ]
    )


def encode_event(event: Event) -> bytes:
    """Encode an event into one message.

    Args:
        event: Any event.

    Returns:
        The msgpack message.

    Raises:
        EventEncodeError: If a field cannot be encoded (metadata with
            unsupported values, an empty or mixed batch).
    """
    if isinstance(event, NewObjectKeyEvent):
        return _packb(
            [
                FORMAT_VERSION,
                EventType.NEW_OBJECT_KEY,
                event.producer_id,
                event.topic,
                event.seq,
                event.store_config,
                event.key,
                event.evict,
                event.metadata,
            ]
        )
    if isinstance(event, NewObjectEvent):
        return _packb(
            [
                FORMAT_VERSION,
                EventType.NEW_OBJECT,
                event.producer_id,
                event.topic,
                event.seq,
                event.serializer,
                event.payload,
                event.metadata,
            ]
        )
    if isinstance(event, EndOfStreamEvent):
        return _packb(
            [FORMAT_VERSION, EventType.END_OF_STREAM, event.producer_id, event.topic, event.seq]
        )
    if isinstance(event, BatchEvent):
        return _encode_batch(event)
    raise EventEncodeError(f"not an event: {type(event).__name__}")


def _check_seq(seq: Any) -> int:
    if type(seq) is not int or seq < 0:
        raise EventDecodeError("sequence number must be a non-negative int")
    return seq


def _check_metadata(metadata: Any) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        raise EventDecodeError("metadata must be a map")
    return metadata


def _check_key(key: Any) -> Any:
    if key is None or isinstance(key, (dict, bool)):
        raise EventDecodeError("store key must be a str, int, bytes or array")
    return key


def _stored_event(pid: bytes, topic: str, config: bytes, item: list[Any]) -> NewObjectKeyEvent:
    seq, key, evict, metadata = item
    if not isinstance(evict, bool):
        raise EventDecodeError("evict flag must be a bool")
    return NewObjectKeyEvent(
        producer_id=pid,
        topic=topic,
        seq=_check_seq(seq),
        store_config=config,
        key=_check_key(key),
        evict=evict,
        metadata=_check_metadata(metadata),
    )


def _inline_event(pid: bytes, topic: str, item: list[Any]) -> NewObjectEvent:
    seq, serializer, payload, metadata = item
    if not isinstance(serializer, str) or not isinstance(payload, bytes):
        raise EventDecodeError("inline events need a str serializer and a bin payload")
    return NewObjectEvent(
        producer_id=pid,
        topic=topic,
        seq=_check_seq(seq),
        serializer=serializer,
        payload=payload,
        metadata=_check_metadata(metadata),
    )


def _decode_batch(pid: bytes, topic: str, rest: list[Any]) -> BatchEvent:
    if len(rest) != 2:
        raise EventDecodeError("batch event has the wrong number of fields")
    config, items = rest
    if not isinstance(items, list) or not items:
        raise EventDecodeError("batch event needs a non-empty array of items")
    if config is not None and not isinstance(config, bytes):
        raise EventDecodeError("batch store config must be bin or nil")
    events: list[ObjectEvent] = []
    for item in items:
        if not isinstance(item, list) or len(item) != 4:
            raise EventDecodeError("batch item must be an array of 4 fields")
        if config is None:
            events.append(_inline_event(pid, topic, item))
        else:
            events.append(_stored_event(pid, topic, config, item))
    return BatchEvent(producer_id=pid, topic=topic, events=tuple(events))


def decode_event(data: bytes | bytearray | memoryview) -> Event:
    """Decode one message into an event.

    Args:
        data: A message made by :func:`encode_event`.

    Returns:
        The event.

    Raises:
        EventDecodeError: If ``data`` is not a valid version-1 event: bad or
            truncated msgpack, trailing bytes, wrong field count or types,
            an unknown format version or event type.
    """
    fields = _unpackb(data)
    if not isinstance(fields, list) or len(fields) < 4:
        raise EventDecodeError("an event must be an array of at least 4 fields")
    version, code, pid, topic = fields[:4]
    if type(version) is not int or version != FORMAT_VERSION:
        raise EventDecodeError(f"unknown event format version {version!r}")
    if not isinstance(pid, bytes) or not 0 < len(pid) <= MAX_PRODUCER_ID_LEN:
        raise EventDecodeError("producer id must be 1 to 64 bytes of bin")
    if not isinstance(topic, str):
        raise EventDecodeError("topic must be a str")
    rest = fields[4:]
    if code == EventType.NEW_OBJECT_KEY and type(code) is int:
        if len(rest) != 5:
            raise EventDecodeError("key event has the wrong number of fields")
        seq, config, *item = rest
        if not isinstance(config, bytes):
            raise EventDecodeError("store config must be bin")
        return _stored_event(pid, topic, config, [seq, *item])
    if code == EventType.NEW_OBJECT and type(code) is int:
        if len(rest) != 4:
            raise EventDecodeError("inline event has the wrong number of fields")
        return _inline_event(pid, topic, rest)
    if code == EventType.END_OF_STREAM and type(code) is int:
        if len(rest) != 1:
            raise EventDecodeError("end-of-stream event has the wrong number of fields")
        return EndOfStreamEvent(producer_id=pid, topic=topic, seq=_check_seq(rest[0]))
    if code == EventType.BATCH and type(code) is int:
        return _decode_batch(pid, topic, rest)
    raise EventDecodeError(f"unknown event type {code!r}")
