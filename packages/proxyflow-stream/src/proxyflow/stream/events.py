r"""Stream events and their wire format.

An event is what a producer publishes on a topic: an object sent inline
([`NewObjectEvent`][proxyflow.stream.events.NewObjectEvent]), a reference to an object in a store
([`NewObjectKeyEvent`][proxyflow.stream.events.NewObjectKeyEvent]), the end of a
producer's stream on a topic ([`EndOfStreamEvent`][proxyflow.stream.events.EndOfStreamEvent]),
or several object events of one flush
([`BatchEvent`][proxyflow.stream.events.BatchEvent]).

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
signed message      [1, 5, mac, digests | nil, event]
```

* A **signed message** (from a producer with a ``signing_key``) wraps one of
  the events above, as bin, with ``mac`` (32 bytes of HMAC-SHA256 over the
  digests and the event) and ``digests`` (the 32-byte content digest of each
  stored object's bytes, in order; nil for events without stored objects).
  See the security page of the documentation.

* ``seq`` is the producer's per-topic sequence number (uint, from 0, one per
  object event and one for the end-of-stream event). Together with the
  producer id it identifies an event: consumers count lost and repeated
  events from it, and since an end-of-stream event's number is the count of
  object events before it, loss at the tail shows too.
* ``payload`` is the object serialized by the serializer registered under
  ``serializer`` in [`proxyflow.serialize`][proxyflow.serialize] (``"default"`` normally),
  carried as msgpack bin.
* ``store_config`` is the store's [`StoreConfig`][proxyflow.store.StoreConfig]
  packed once by [`encode_store_config`][proxyflow.stream.events.encode_store_config]
  into a small msgpack array ``[name, connector, options, serializer, cache_size]``
  and carried as opaque bin. The producer caches these bytes per store and the
  consumer caches what it built from them keyed by the bytes, so per-event cost
  stays a byte copy.
* ``metadata`` is a ``str``-keyed map of msgpack values (``{}`` when none).

Encoders may use any valid msgpack header for a field. Ours has one
implementation, used by the producer and by
[`encode_event`][proxyflow.stream.events.encode_event] alike: it packs the
per-topic constant fields once, splices in metadata packed once per
``send()``, and writes an inline payload behind a hand-built ``bin`` header
with one ``bytes.join``, so the payload is copied once and never through a
growing buffer. The bytes are identical to what ``msgpack.packb`` writes for
the same array. One decoder serves the consumer and
[`decode_event`][proxyflow.stream.events.decode_event].

Decoding a message of 256 KiB or more that holds one inline object does not
copy the payload: `NewObjectEvent.payload` is then a read-only
``memoryview`` slice of the message (which it keeps alive). A consumer still
hands out the type that was sent (``bytes`` for ``bytes``).

Decoding is strict: anything else (bad msgpack, truncation, trailing bytes,
wrong field types, unknown version or type) raises
[`EventDecodeError`][proxyflow.stream.exceptions.EventDecodeError].

Example:
    ```python
    from proxyflow.stream.events import EndOfStreamEvent, decode_event, encode_event

    event = EndOfStreamEvent(producer_id=b"\x01" * 8, topic="t", seq=3)
    assert decode_event(encode_event(event)) == event
    ```
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from proxyflow.stream._decode import Batch, EndOfStream, InlineItem, Item, decode
from proxyflow.stream._signing import Signer, Verifier
from proxyflow.stream._signing import signing_key as _key
from proxyflow.stream._wire import (
    FORMAT_VERSION,
    MAX_PRODUCER_ID_LEN,
    EventType,
    TopicCodec,
    decode_store_config,
    encode_store_config,
    pack_metadata,
)
from proxyflow.stream.exceptions import EventEncodeError

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


@dataclass(frozen=True)
class NewObjectEvent:
    """An object sent inline, inside the event itself (for small objects).

    Attributes:
        producer_id: The sending producer's id (1 to 64 bytes).
        topic: The topic the event was sent on.
        seq: The producer's sequence number for this event on ``topic``.
        serializer: The name of the serializer that made ``payload``.
        payload: The serialized object: ``bytes``, or a read-only memoryview
            of the message when a decoded message had 256 KiB or more.
        metadata: User metadata given to ``send()`` (``{}`` when none).
    """

    producer_id: bytes
    topic: str
    seq: int
    serializer: str
    payload: bytes | memoryview
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewObjectKeyEvent:
    """A reference to an object the producer put into a store.

    Attributes:
        producer_id: The sending producer's id (1 to 64 bytes).
        topic: The topic the event was sent on.
        seq: The producer's sequence number for this event on ``topic``.
        store_config: The store's config packed by
            [`encode_store_config`][proxyflow.stream.events.encode_store_config];
            a consumer finds or rebuilds the store from it.
        key: The object's key in that store (small, JSON-serializable).
        evict: Whether the object is removed from the store when it is read.
        metadata: User metadata given to ``send()`` (``{}`` when none).
        digest: The content digest of the stored bytes
            ([`proxyflow.store.content_digest`][proxyflow.store.content_digest]):
            carried by signed events only (``None`` otherwise).
    """

    producer_id: bytes
    topic: str
    seq: int
    store_config: bytes
    key: Any
    evict: bool
    metadata: dict[str, Any] = field(default_factory=dict)
    digest: bytes | None = None


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
    return pack_metadata(metadata)[0]


def _packed(metadata: Mapping[str, Any]) -> bytes:
    return pack_metadata(metadata)[1]


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
    codec = TopicCodec(event.producer_id, event.topic, config)
    seqs = [item.seq for item in events]
    metadatas = [_packed(item.metadata) for item in events]
    stored = [item for item in events if isinstance(item, NewObjectKeyEvent)]
    if config is not None:
        return codec.key_batch(seqs, [e.key for e in stored], [e.evict for e in stored], metadatas)
    inline = [item for item in events if isinstance(item, NewObjectEvent)]
    return codec.inline_batch(
        seqs, [e.serializer for e in inline], [[e.payload] for e in inline], metadatas
    )


def _digests(event: Event) -> bytes | None:
    """The joined digests a signed message of ``event`` carries."""
    stored = (
        [event]
        if isinstance(event, NewObjectKeyEvent)
        else [e for e in event.events if isinstance(e, NewObjectKeyEvent)]
        if isinstance(event, BatchEvent)
        else []
    )
    if not stored:
        return None
    if any(e.digest is None for e in stored):
        raise EventEncodeError("a signed key event needs the digest of its stored bytes")
    return b"".join(e.digest for e in stored if e.digest is not None)


def encode_event(event: Event, *, signing_key: str | bytes | None = None) -> bytes:
    """Encode an event into one message, with the encoder the producer uses.

    Args:
        event: Any event.
        signing_key: Sign the message with this key, as a producer with this
            ``signing_key`` does (key events then need their ``digest``).
            Unlike the producer, no environment variable is read.

    Returns:
        The msgpack message.

    Raises:
        EventEncodeError: If a field cannot be encoded (metadata with
            unsupported values, a producer id that is not 1 to 64 bytes, an
            empty or mixed batch).
    """
    if signing_key is not None:
        key = _key(signing_key)
        assert key is not None
        return Signer(key).seal(encode_event(event), _digests(event))
    if isinstance(event, NewObjectKeyEvent):
        codec = TopicCodec(event.producer_id, event.topic, event.store_config)
        return codec.key_event(event.seq, event.key, event.evict, _packed(event.metadata))
    if isinstance(event, NewObjectEvent):
        codec = TopicCodec(event.producer_id, event.topic, None)
        return codec.inline_event(
            event.seq, event.serializer, [event.payload], _packed(event.metadata)
        )
    if isinstance(event, EndOfStreamEvent):
        return TopicCodec(event.producer_id, event.topic, None).end_of_stream(event.seq)
    if isinstance(event, BatchEvent):
        return _encode_batch(event)
    raise EventEncodeError(f"not an event: {type(event).__name__}")


def _object_event(item: Item) -> ObjectEvent:
    if type(item) is InlineItem:
        return NewObjectEvent(
            item.producer_id, item.topic, item.seq, item.serializer, item.payload, item.metadata
        )
    return NewObjectKeyEvent(
        item.producer_id,
        item.topic,
        item.seq,
        item.store_config,  # type: ignore[union-attr]
        item.key,  # type: ignore[union-attr]
        item.evict,  # type: ignore[union-attr]
        item.metadata,
        item.digest,  # type: ignore[union-attr]
    )


def decode_event(
    data: bytes | bytearray | memoryview,
    *,
    signing_key: str | bytes | None = None,
    topics: Collection[str] = (),
) -> Event:
    """Decode one message into an event, with the decoder the consumer uses.

    Without ``signing_key`` a signed message is unwrapped without checking
    its signature (and its digests are left out), as a consumer without a
    key does.

    Args:
        data: A message made by [`encode_event`][proxyflow.stream.events.encode_event]
            (or by a producer).
        signing_key: Check the message as a consumer with this key does
            (no environment variable is read); key events then carry their digest.
        topics: With ``signing_key``, the topics the event may belong to
            (empty: any).

    Returns:
        The event.

    Raises:
        EventDecodeError: If ``data`` is not a valid version-1 event: bad or
            truncated msgpack, trailing bytes, wrong field count or types,
            an unknown format version or event type; with ``signing_key``,
            an [`EventRejectedError`][proxyflow.stream.exceptions.EventRejectedError]
            for an unsigned, forged or replayed message.
    """
    if signing_key is None:
        decoded = decode(data)
    else:
        key = _key(signing_key)
        assert key is not None
        decoded = Verifier(key, topics).decode(data)
    if type(decoded) is EndOfStream:
        return EndOfStreamEvent(decoded.producer_id, decoded.topic, decoded.seq)
    if type(decoded) is Batch:
        events = tuple(_object_event(item) for item in decoded.items)
        return BatchEvent(decoded.producer_id, decoded.topic, events)
    return _object_event(decoded)  # type: ignore[arg-type]
