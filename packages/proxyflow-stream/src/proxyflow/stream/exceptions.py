"""Errors raised by [`proxyflow.stream`][proxyflow.stream].

Every error of this package derives from [`StreamError`][proxyflow.stream.exceptions.StreamError],
itself a [`ProxyflowError`][proxyflow.api.exceptions.ProxyflowError], the root
of every proxyflow error. Where a built-in class describes the failure too,
the error also derives from it, so callers may catch either:

```text
ProxyflowError
 └── StreamError
      ├── TopicClosedError
      ├── ProducerClosedError
      ├── ConsumerClosedError
      ├── ConnectorNotAllowedError
      ├── BatchSendError
      ├── EventsLostError
      ├── EventEncodeError          (also TypeError)
      ├── EventDecodeError          (also ValueError)
      │    └── EventRejectedError   refused by the trust policy or the signing key
      │         ├── UntrustedLocationError
      │         ├── UnsignedEventError
      │         ├── ForgedEventError
      │         ├── ReplayedEventError
      │         └── TamperedObjectError  (also proxyflow.store.ContentDigestError)
      ├── ConsumerTimeoutError      (also TimeoutError)
      ├── AcknowledgementError
      │    ├── AcknowledgementsUnavailableError  (also TypeError)
      │    └── ItemNotHeldError                  (also LookupError)
      └── StreamObjectMissingError  (also proxyflow.store.ObjectMissingError,
                                     a KeyError, and ValueError as in ProxyStore)
```

Errors raised by the store layer (for example
[`proxyflow.store.UnknownConnectorError`][proxyflow.store.UnknownConnectorError]
when an event names a connector kind that is not installed) and by the broker
shim (``ConnectionError`` subclasses) propagate unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from proxyflow.api import BackendTimeoutError, ProxyflowError
from proxyflow.store import ContentDigestError, ObjectMissingError

if TYPE_CHECKING:
    from proxyflow.stream.results import FailedSend

__all__ = [
    "AcknowledgementError",
    "AcknowledgementsUnavailableError",
    "BatchSendError",
    "ConnectorNotAllowedError",
    "ConsumerClosedError",
    "ConsumerTimeoutError",
    "EventDecodeError",
    "EventEncodeError",
    "EventRejectedError",
    "EventsLostError",
    "ForgedEventError",
    "ItemNotHeldError",
    "ProducerClosedError",
    "ReplayedEventError",
    "SendPendingError",
    "SendTimeoutError",
    "StreamError",
    "StreamObjectMissingError",
    "TamperedObjectError",
    "TopicClosedError",
    "UnsignedEventError",
    "UntrustedLocationError",
]


class StreamError(ProxyflowError):
    """Base class of every error raised by [`proxyflow.stream`][proxyflow.stream]."""


class TopicClosedError(StreamError):
    """An object was sent on a topic that this producer already closed.

    A topic is closed by [`close_topics`][proxyflow.stream.producer.StreamProducer.close_topics]
    (or ``close(topics=...)``), which sends its end-of-stream event; a producer
    cannot reopen it.
    """


class ProducerClosedError(StreamError):
    """A [`StreamProducer`][proxyflow.stream.StreamProducer] was used after ``close()``."""


class ConsumerClosedError(StreamError):
    """A [`StreamConsumer`][proxyflow.stream.StreamConsumer] was used after ``close()``."""


class ConnectorNotAllowedError(StreamError):
    """An event names a connector kind outside the consumer's ``allowed_connectors``.

    The consumer refuses to build a store for it; the object stays where the
    producer stored it.
    """


class EventEncodeError(StreamError, TypeError):
    """An event (usually its metadata) cannot be encoded with msgpack.

    Metadata must be a ``dict`` with ``str`` keys whose values msgpack can
    carry (``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, lists and
    ``str``-keyed dicts of these). The producer checks metadata in ``send()``,
    before anything is stored, so a bad value never leaves an orphaned object.
    """


class EventDecodeError(StreamError, ValueError):
    """A message is not a valid event.

    Raised for malformed or truncated msgpack, trailing bytes, fields of the
    wrong type, an unknown format version or event type, and an inline payload
    that its serializer cannot read. It never escapes as a bare msgpack error.
    """


class EventRejectedError(EventDecodeError):
    """A well-formed event that the consumer refuses to act on.

    Raised for an event naming a location the consumer does not trust, and,
    with a signing key, for an event that is unsigned, forged, replayed from
    another topic, or whose stored object was changed. Like every
    [`EventDecodeError`][proxyflow.stream.exceptions.EventDecodeError] it is
    skipped with ``on_decode_error="skip"``, and counted in
    ``ConsumerStats.untrusted``.
    """


class UntrustedLocationError(EventRejectedError):
    """An event names a store location (directory, Redis server) this consumer does not trust.

    Nothing is read, deleted or connected to. See
    [`proxyflow.stream.trust`][proxyflow.stream.trust]: list the location in
    ``trusted_locations=`` (or ``PROXYFLOW_TRUSTED_LOCATIONS``), register the
    store, pass it in ``store_overrides=``, or sign the events.
    """


class UnsignedEventError(EventRejectedError):
    """A consumer with a signing key received an event that is not signed."""


class ForgedEventError(EventRejectedError):
    """A signed event whose signature does not match its content under the consumer's key.

    It was changed on the way, or signed with another key.
    """


class ReplayedEventError(EventRejectedError):
    """A signed event arrived on a topic other than the one it was signed for.

    Someone copied a genuine event of another topic onto this one.
    """


class TamperedObjectError(EventRejectedError, ContentDigestError):
    """A stored object's bytes do not match the digest its signed event carries.

    The bytes were changed in storage; they were not deserialized.
    """


class ConsumerTimeoutError(StreamError, TimeoutError):
    """No message arrived within the consumer's ``timeout`` (seconds, per message)."""


class StreamObjectMissingError(StreamError, ObjectMissingError, ValueError):
    """An event points at a key that no longer holds an object.

    Raised by the consumer's ``next_object*`` methods, for example when another
    consumer already read an object that was sent with ``evict=True``. It is
    also a ``ValueError``, the class ProxyStore's ``next_object`` raises in
    this case, so ``except ValueError`` written for ProxyStore still catches it.
    """


class BatchSendError(StreamError):
    """A flush could not store or publish some buffered objects; ``failures`` names each.

    Raised by the call that flushed (a ``send()`` that filled its batch,
    ``flush_topic``, ``flush``, ``close_topics`` or ``close``). Nothing of a
    failed batch was kept: its objects stored for it were evicted again, and
    its event was not published, so consumers never see them. The exception
    is a publish that timed out (``FailedSend.maybe_published``): the broker
    may have taken the event, so its objects stay in the store under
    ``FailedSend.key`` and consumers may still receive them. Every other
    object is unaffected; send the failed ones again if they matter (each
    `FailedSend` holds the object). The first failure's error is also the
    ``__cause__``.

    Attributes:
        failures: One [`FailedSend`][proxyflow.stream.results.FailedSend] per
            object lost, in send order per topic.
    """

    def __init__(self, failures: Sequence[FailedSend]) -> None:
        self.failures: tuple[FailedSend, ...] = tuple(failures)
        topics: dict[str, list[int]] = {}
        for failure in self.failures:
            topics.setdefault(failure.topic, []).append(failure.send_index)
        named = "; ".join(f"topic {t!r}: sends {indexes}" for t, indexes in topics.items())
        first = self.failures[0].error if self.failures else None
        maybe = sum(1 for failure in self.failures if failure.maybe_published)
        if maybe:
            fate = (
                f"Publishing timed out for {maybe} of them: they stay in their store and "
                "consumers may still receive them (FailedSend.maybe_published, .key); the "
                "others are not in any store and no consumer will see them"
            )
        else:
            fate = "They are not in any store and no consumer will see them"
        super().__init__(
            f"{len(self.failures)} buffered object(s) were not stored or published ({named}): "
            f"{type(first).__name__}: {first}. {fate}; send them again if they matter "
            "(BatchSendError.failures holds each object)."
        )


class SendTimeoutError(StreamError, BackendTimeoutError):
    """An unbatched ``send()`` stored its object, then publishing its event timed out.

    The broker may or may not have taken the event, so the object was not
    evicted: consumers may still receive it. ``failure`` names it, with its
    key (``failure.key``, ``failure.maybe_published`` is true) and the
    object itself. Evict the key if you know the event was lost, or send the
    object again (it may then be delivered twice). The publisher's own error
    (``BrokerTimeoutError``, ``PublishTimeoutError``...) is the ``__cause__``.

    It is a ``BackendTimeoutError`` and so a ``TimeoutError``: code that
    catches either still catches it. A timeout that leaves nothing behind (an
    inline send, or a store that timed out before the event was sent) is
    raised as it is. A batched send reports the same case as a
    [`FailedSend`][proxyflow.stream.results.FailedSend] of a `BatchSendError`.

    Attributes:
        failure: The object that may not have been published, with its key.
    """

    def __init__(self, failure: FailedSend, backend: str = "") -> None:
        self.failure = failure
        super().__init__(
            f"publishing send #{failure.send_index} on topic {failure.topic!r} timed out "
            f"({type(failure.error).__name__}: {failure.error}). The broker may have taken the "
            f"event, so the object stays in its store under key {failure.key!r} and consumers "
            "may still receive it: evict that key if you know the event was lost, or send the "
            "object again (SendTimeoutError.failure.obj), which may deliver it twice.",
            backend,
        )


class SendPendingError(StreamError, RuntimeError):
    """The result of an asyncio send was asked for while its object is still buffered.

    A [`SendResult`][proxyflow.stream.results.SendResult] of a synchronous
    producer flushes its topic when asked; one of an
    [`AsyncStreamProducer`][proxyflow.stream.AsyncStreamProducer] cannot (its
    flushes are awaited), and waiting would block the event loop. Await
    ``flush_topic(topic)``, ``flush()`` or ``close()`` first, or check
    ``done()``.
    """


class EventsLostError(StreamError):
    """Events of a producer never arrived: its sequence numbers jumped.

    Raised with ``on_gap="raise"`` when the consumer notices the gap (the
    next event of that producer on the topic, or its end-of-stream). The
    consumer stays usable: the event that revealed the gap is kept and comes
    next. ``ConsumerStats.lost`` counts the missing events in every mode.

    Attributes:
        producer_id: The producer whose events are missing.
        topic: The topic.
        expected: The first missing sequence number.
        received: The sequence number that arrived instead.
    """

    def __init__(self, producer_id: bytes, topic: str, expected: int, received: int) -> None:
        self.producer_id = producer_id
        self.topic = topic
        self.expected = expected
        self.received = received
        super().__init__(
            f"{received - expected} event(s) of producer {producer_id.hex()} on topic "
            f"{topic!r} were lost (sequence numbers {expected} to {received - 1} never "
            "arrived): the broker dropped them or the subscriber was disconnected. Use a "
            "broker that keeps messages (Redis lists or streams, NATS JetStream) or slow "
            "the producer down."
        )

    def __reduce__(self) -> tuple[type, tuple[bytes, str, int, int]]:
        return (type(self), (self.producer_id, self.topic, self.expected, self.received))

    @property
    def lost(self) -> int:
        """How many events are missing."""
        return self.received - self.expected


class AcknowledgementError(StreamError):
    """Base class of the errors of acknowledging items (``ack``, ``nack``, ``reject``)."""


class AcknowledgementsUnavailableError(AcknowledgementError, TypeError):
    """The consumer's subscriber cannot acknowledge messages.

    Raised by ``StreamConsumer(subscriber, ack="manual")`` and by
    ``consumer.ack/nack/reject`` when the subscriber is not an
    ``proxyflow.api.AckingSubscriber`` (it has no ``next_delivery``): such a
    broker hands each message over when it is read (at-most-once), so there is
    nothing to acknowledge or give back. Use a durable shim (Redis Streams,
    NATS JetStream) for at-least-once delivery.
    """


class ItemNotHeldError(AcknowledgementError, LookupError):
    """``ack``, ``nack`` or ``reject`` got an item the consumer does not hold.

    Items are recognised by identity: pass the very proxy or object the
    consumer handed out. Each item is settled once; after that, or for an
    object the consumer never handed out, this error is raised.

    Args:
        item: The object given.
    """

    def __init__(self, item: object) -> None:
        described = f"{type(item).__name__} object at {id(item):#x}"
        super().__init__(
            f"{described} is not an unsettled item of this consumer: pass the very proxy or "
            "object the consumer handed out, and settle it once"
        )
