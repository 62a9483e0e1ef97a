"""Signed events: the wrapper, its checks, and producer/consumer pairs with and without keys."""

from __future__ import annotations

import queue
from typing import Any

import pytest

from proxyflow.connectors.local import LocalConnector
from proxyflow.shims.queue import QueuePublisher, QueueSubscriber
from proxyflow.store import DIGEST_SIZE, Store, content_digest
from proxyflow.stream import (
    EventDecodeError,
    ForgedEventError,
    ReplayedEventError,
    StreamConsumer,
    StreamProducer,
    UnsignedEventError,
)
from proxyflow.stream._signing import MIN_KEY_BYTES, SIGNING_KEY_ENV, Signer, signing_key
from proxyflow.stream.events import (
    BatchEvent,
    EndOfStreamEvent,
    NewObjectEvent,
    NewObjectKeyEvent,
    decode_event,
    encode_event,
)

KEY = "unit-test-signing-key-0123456789"
PID = b"producer"
DIGEST = content_digest([b"stored bytes"])


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    monkeypatch.delenv("PROXYFLOW_TRUSTED_LOCATIONS", raising=False)


def key_event(topic: str = "t", digest: bytes | None = DIGEST) -> NewObjectKeyEvent:
    return NewObjectKeyEvent(PID, topic, 0, b"\x95", "k", True, {"a": 1}, digest)


EVENTS: list[Any] = [
    key_event(),
    NewObjectEvent(PID, "t", 1, "default", b"\x00payload", {}),
    EndOfStreamEvent(PID, "t", 2),
    BatchEvent(
        PID, "t", (key_event(), NewObjectKeyEvent(PID, "t", 1, b"\x95", "j", False, {}, DIGEST))
    ),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_signed_events_round_trip_with_their_digests(event: Any) -> None:
    message = encode_event(event, signing_key=KEY)
    assert decode_event(message, signing_key=KEY, topics=["t"]) == event


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_a_consumer_without_key_reads_signed_events_without_digests(event: Any) -> None:
    unsigned = decode_event(encode_event(event, signing_key=KEY))
    assert unsigned == decode_event(encode_event(_without_digests(event)))


def _without_digests(event: Any) -> Any:
    if isinstance(event, NewObjectKeyEvent):
        return NewObjectKeyEvent(
            *[
                getattr(event, f)
                for f in ("producer_id", "topic", "seq", "store_config", "key", "evict", "metadata")
            ]
        )
    if isinstance(event, BatchEvent):
        return BatchEvent(
            event.producer_id, event.topic, tuple(_without_digests(e) for e in event.events)
        )
    return event


def test_unsigned_forged_and_replayed_messages_are_rejected() -> None:
    event = key_event()
    with pytest.raises(UnsignedEventError):
        decode_event(encode_event(key_event(digest=None)), signing_key=KEY)
    with pytest.raises(ForgedEventError):
        decode_event(encode_event(event, signing_key="another-key-0123456789"), signing_key=KEY)
    message = bytearray(encode_event(event, signing_key=KEY))
    message[-3] ^= 1  # inside the event's metadata
    with pytest.raises(ForgedEventError):
        decode_event(bytes(message), signing_key=KEY)
    with pytest.raises(ReplayedEventError):
        decode_event(encode_event(event, signing_key=KEY), signing_key=KEY, topics=["other"])


def test_malformed_signed_messages_are_decode_errors() -> None:
    good = encode_event(key_event(), signing_key=KEY)
    nested = Signer(signing_key(KEY) or b"").seal(good)
    for bad in (good[:20], good[:-1], good + b"\x00", nested):
        with pytest.raises(EventDecodeError):
            decode_event(bad, signing_key=KEY)
    with pytest.raises(EventDecodeError):
        decode_event(nested)  # without a key too


def test_digest_count_must_match_the_stored_objects() -> None:
    wrong = Signer(signing_key(KEY) or b"").seal(
        encode_event(key_event(digest=None)), b"x" * (2 * DIGEST_SIZE)
    )
    with pytest.raises(EventDecodeError, match="digest"):
        decode_event(wrong, signing_key=KEY)
    inline = NewObjectEvent(PID, "t", 1, "default", b"\x00p", {})
    extra = Signer(signing_key(KEY) or b"").seal(encode_event(inline), DIGEST)
    with pytest.raises(EventDecodeError, match="digest"):
        decode_event(extra, signing_key=KEY)


def test_signing_key_comes_from_the_environment_and_must_be_long(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert signing_key(None) is None
    monkeypatch.setenv(SIGNING_KEY_ENV, KEY)
    assert signing_key(None) == signing_key(KEY.encode())
    assert signing_key("x" * 200) != signing_key("x" * 199)  # long keys stay whole
    with pytest.raises(ValueError, match=str(MIN_KEY_BYTES)):
        signing_key("short")
    with pytest.raises(TypeError):
        signing_key(42)  # type: ignore[arg-type]


def test_a_key_event_needs_its_digest_to_be_signed() -> None:
    from proxyflow.stream import EventEncodeError

    with pytest.raises(EventEncodeError, match="digest"):
        encode_event(key_event(digest=None), signing_key=KEY)


@pytest.mark.parametrize("batch_size", [1, 4])
@pytest.mark.parametrize("inline", [False, True])
def test_producer_and_consumer_with_the_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, batch_size: int, inline: bool
) -> None:
    monkeypatch.setenv(SIGNING_KEY_ENV, KEY)
    q: queue.Queue[bytes] = queue.Queue()
    store = None if inline else Store("signed-unit", LocalConnector())
    objs = [{"i": i} for i in range(6)]
    with StreamProducer(QueuePublisher({"t": q}), default_store=store, batch_size=batch_size) as p:
        for obj in objs:
            p.send("t", obj)
        p.close_topics("t")
    with StreamConsumer(QueueSubscriber(q, topics=["t"]), timeout=5, prefetch=3) as consumer:
        assert list(consumer.iter_objects()) == objs
        assert consumer.stats.untrusted == 0


def test_a_keyed_consumer_skips_and_counts_unsigned_events() -> None:
    q: queue.Queue[bytes] = queue.Queue()
    with StreamProducer(QueuePublisher({"t": q})) as unsigned:
        unsigned.send("t", "no signature")
        unsigned.close_topics("t")  # its end of stream is unsigned too: refused
    with StreamProducer(QueuePublisher({"t": q}), signing_key=KEY) as signed:
        signed.send("t", "signed")
        signed.close_topics("t")
    subscriber = QueueSubscriber(q, topics=["t"])
    with StreamConsumer(subscriber, timeout=5, signing_key=KEY, on_decode_error="skip") as consumer:
        assert list(consumer) == ["signed"]
        assert consumer.stats.untrusted == 2


def test_a_consumer_without_key_reads_a_signed_stream() -> None:
    q: queue.Queue[bytes] = queue.Queue()
    store = Store("signed-unit-2", LocalConnector())
    with StreamProducer(QueuePublisher({"t": q}), default_store=store, signing_key=KEY) as p:
        p.send("t", [1, 2])
        p.close_topics("t")
    with StreamConsumer(QueueSubscriber(q, topics=["t"]), timeout=5) as consumer:
        assert list(consumer.iter_objects()) == [[1, 2]]


@pytest.mark.parametrize("prefetch", [0, 2])
def test_many_tampered_objects_in_a_row_are_skipped_and_counted(prefetch: int) -> None:
    from proxyflow.stream.events import encode_store_config

    q: queue.Queue[bytes] = queue.Queue()
    store = Store("signed-unit-3", LocalConnector())
    config = encode_store_config(store.config())
    for seq in range(50):
        key = store.put(seq)  # the digest below is not the one of these bytes
        event = NewObjectKeyEvent(PID, "t", seq, config, key, True, {}, bytes(DIGEST_SIZE))
        q.put(encode_event(event, signing_key=KEY))
    with StreamProducer(QueuePublisher({"t": q}), default_store=store, signing_key=KEY) as p:
        p.send("t", "genuine")
        p.close_topics("t")
    subscriber = QueueSubscriber(
        q,
        topics=["t"],
    )
    with StreamConsumer(
        subscriber, timeout=5, signing_key=KEY, on_decode_error="skip", prefetch=prefetch
    ) as consumer:
        assert list(consumer.iter_objects()) == ["genuine"]
        assert consumer.stats.untrusted == 50
        assert consumer.stats.objects == 1
