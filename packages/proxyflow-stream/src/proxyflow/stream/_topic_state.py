"""What a producer's topic decides without doing I/O, shared by the sync and asyncio producers.

[`TopicPublisher`][proxyflow.stream._topic.TopicPublisher] (threads) and
[`AsyncTopicPublisher`][proxyflow.stream._async_topic.AsyncTopicPublisher]
(asyncio) differ only in how they wait for stores and brokers. Everything
else lives here, once: the buffer of pending sends, their send indexes and
shared `SendResult`, the next sequence number, which message announces what
was stored (signed when the producer has a key), which results a flush
settles and how a failed batch is reported
([`BatchSendError`][proxyflow.stream.exceptions.BatchSendError]), and which
keys are evicted again when a publication fails: all of them, unless the
publisher raised a ``TimeoutError`` (``BrokerTimeoutError`` is one). Then the
broker may have stored the event, so the objects stay in their store (an
event naming an evicted object would reach consumers as an orphan) and each
`FailedSend` says ``maybe_published`` with its key.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from proxyflow.serialize import DEFAULT_SERIALIZER, serialize_parts
from proxyflow.store import Store, content_digest
from proxyflow.stream._signing import Signer
from proxyflow.stream._wire import TopicCodec, pack
from proxyflow.stream.exceptions import BatchSendError, SendTimeoutError, TopicClosedError
from proxyflow.stream.results import FailedSend, Outcome, SendResult

__all__ = [
    "INLINE_SERIALIZER",
    "Aggregate",
    "Buffer",
    "FailureCollector",
    "TopicState",
    "evict_quietly",
    "maybe_published",
]

_log = logging.getLogger("proxyflow.stream")

INLINE_SERIALIZER = DEFAULT_SERIALIZER
"""The [`proxyflow.serialize`][proxyflow.serialize] serializer used for objects sent inline."""


class Buffer:
    """The ``send()`` calls waiting for their batch to be flushed, one list per field.

    Kept as columns rather than one record per send: ``send()`` appends to
    each list, and a flush hands the serialized objects to the store and the
    other fields to the message writer as they are. The lists always have the
    same length (``pieces`` stays empty with an aggregator, which serializes
    the aggregate at flush time).

    Attributes:
        objs: The objects (kept to build an aggregate and to report failures).
        pieces: Each object serialized when it was sent (by its store, or for inline).
        metadatas: Their metadata, as ``dict``.
        packed: Their metadata, packed with msgpack.
        evicts: Whether reading each object removes it from its store.
        first: The send index (see `FailedSend.send_index`) of the first object.
        outcome: The fate the objects share.
        result: The `SendResult` of every object of the buffer (one is
            enough: they share their fate, and a result is read-only).
    """

    __slots__ = ("evicts", "first", "metadatas", "objs", "outcome", "packed", "pieces", "result")

    def __init__(self, first: int, flush: Callable[[], None] | None) -> None:
        self.objs: list[Any] = []
        self.pieces: list[Sequence[Any]] = []
        self.metadatas: list[dict[str, Any]] = []
        self.packed: list[bytes] = []
        self.evicts: list[bool] = []
        self.first = first
        self.outcome = Outcome(flush)
        self.result = SendResult(self.outcome)


class Aggregate(NamedTuple):
    """The one object an aggregator made of a buffer, with its merged metadata.

    Attributes:
        obj: ``aggregator(buffer.objs)``.
        packed: The buffered metadata dicts merged in send order, packed.
        evict: Whether any buffered send asked for eviction (ProxyStore's rule).
    """

    obj: Any
    packed: bytes
    evict: bool


def maybe_published(exc: BaseException) -> bool:
    """Whether a publication that raised ``exc`` may still have reached the broker (a timeout)."""
    return isinstance(exc, TimeoutError)


def evict_quietly(store: Store, keys: Sequence[Any]) -> None:
    """Evict ``keys`` again after a failed publication (best effort: the send error wins)."""
    for key in keys:
        with contextlib.suppress(Exception):
            store.evict(key)


class FailureCollector:
    """Gathers the `BatchSendError` of several topics into one, for flush-all and close."""

    __slots__ = ("cause", "failures")

    def __init__(self) -> None:
        self.failures: list[FailedSend] = []
        self.cause: BaseException | None = None

    def add(self, exc: BatchSendError) -> None:
        """Record the failures of one topic."""
        self.failures += exc.failures
        self.cause = self.cause or exc.__cause__

    def raise_any(self) -> None:
        """Raise one error naming every recorded failure (nothing if none).

        Raises:
            BatchSendError: Naming the objects of every batch that failed (the
                first failure's cause is the ``__cause__``).
        """
        if self.failures:
            raise BatchSendError(self.failures) from self.cause


class TopicState:
    """The I/O-free state of one producer's topic: buffer, sequence numbers, messages.

    Every method must be called with the owner's lock held (a
    ``threading.Lock`` or an ``asyncio.Lock``), so that sequence numbers on
    the wire follow publication order.

    Args:
        topic: The topic.
        store: The store of the topic's objects, or ``None`` to send them inline.
        codec: The topic's message writer.
        joined: Whether the topic needs no ``join`` (joined already, or no roster).
        flush: Flushes this topic under its lock, for a `SendResult` whose
            object is still buffered; ``None`` (asyncio) when a pending result
            cannot flush by itself.
        signer: Signs every message (``None``: messages are not signed).
    """

    __slots__ = (
        "accepted",
        "buffer",
        "closed",
        "codec",
        "joined",
        "kept",
        "next_seq",
        "signer",
        "store",
        "topic",
    )

    def __init__(
        self,
        topic: str,
        store: Store | None,
        codec: TopicCodec,
        *,
        joined: bool,
        flush: Callable[[], None] | None,
        signer: Signer | None,
    ) -> None:
        self.topic = topic
        self.store = store
        self.codec = codec
        self.signer = signer
        self.joined = joined
        self.accepted = 0
        """Objects accepted so far (the next send index)."""
        self.buffer = Buffer(0, flush)
        self.next_seq = 0
        self.closed = False
        self.kept: list[Any] = []
        """Keys left in the store by the last publication that timed out (see `unpublished`)."""

    # -- sending ---------------------------------------------------------------------------

    def check_open(self) -> None:
        """Raise `TopicClosedError` if the producer ended this topic (a read: lock optional)."""
        if self.closed:
            raise TopicClosedError(f"topic {self.topic!r} was closed by this producer")

    def serialize(self, obj: Any) -> Sequence[Any]:
        """Serialize ``obj`` as the topic sends it (by its store, or for inline).

        Raises:
            SerializationError: If ``obj`` cannot be serialized.
            StoreClosedError: If the topic's store is closed.
        """
        store = self.store
        return serialize_parts(obj) if store is None else store.serialize(obj)

    def add(
        self,
        obj: Any,
        metadata: dict[str, Any],
        packed: bytes,
        evict: bool,
        pieces: Sequence[Any] | None,
    ) -> SendResult:
        """Buffer one object (``pieces``: serialized, ``None`` to aggregate); return its result."""
        buffer = self.buffer
        if pieces is not None:
            buffer.pieces.append(pieces)
        buffer.objs.append(obj)
        buffer.metadatas.append(metadata)
        buffer.packed.append(packed)
        buffer.evicts.append(evict)
        self.accepted += 1
        return buffer.result

    def take(self) -> Buffer | None:
        """Empty the buffer and return what it held (``None`` when empty).

        A batch is taken before it is stored, so a batch that fails is
        reported once, not by every later flush.
        """
        buffer = self.buffer
        if not buffer.objs:
            return None
        self.kept = []  # left by an unbatched send that timed out, reported by its send()
        self.buffer = Buffer(self.accepted, buffer.outcome.flush)
        return buffer

    @staticmethod
    def aggregate(buffer: Buffer, aggregator: Callable[[list[Any]], Any]) -> Aggregate:
        """Make the one object, metadata and eviction flag an aggregated buffer is sent as."""
        merged: dict[str, Any] = {}
        for metadata in buffer.metadatas:
            merged.update(metadata)
        # ProxyStore's rule: evicted if any buffered send asked for it.
        return Aggregate(aggregator(buffer.objs), pack(merged), any(buffer.evicts))

    # -- messages (signed with a key) ------------------------------------------------------

    def _seal(self, message: bytes, digests: bytes | None = None) -> bytes:
        signer = self.signer
        return message if signer is None else signer.seal(message, digests)

    def inline_message(self, pieces: Sequence[Sequence[Any]], packed: Sequence[bytes]) -> bytes:
        """The message carrying ``pieces`` inline, from the next sequence number on."""
        seq = self.next_seq
        if len(pieces) == 1:
            message = self.codec.inline_event(seq, INLINE_SERIALIZER, pieces[0], packed[0])
        else:
            message = self.codec.inline_batch(
                range(seq, seq + len(pieces)), INLINE_SERIALIZER, pieces, packed
            )
        return self._seal(message)

    def stored_message(
        self,
        keys: Sequence[Any],
        evicts: Sequence[bool],
        packed: Sequence[bytes],
        digests: bytes | None,
    ) -> bytes:
        """The message announcing the stored ``keys``; ``digests`` are their joined digests."""
        seq = self.next_seq
        if len(keys) == 1:
            message = self.codec.key_event(seq, keys[0], evicts[0], packed[0])
        else:
            message = self.codec.key_batch(range(seq, seq + len(keys)), keys, evicts, packed)
        return self._seal(message, digests)

    def digests(self, pieces: Sequence[Sequence[Any]]) -> bytes | None:
        """The joined content digests of serialized objects when signing (else ``None``)."""
        if self.signer is None:
            return None
        return b"".join(content_digest(p) for p in pieces)

    def end_message(self) -> bytes:
        """The end-of-stream message (at the next sequence number)."""
        return self._seal(self.codec.end_of_stream(self.next_seq))

    def sent(self, count: int) -> None:
        """Count ``count`` objects (or one end of stream) as published."""
        self.next_seq += count

    # -- outcomes --------------------------------------------------------------------------

    def unpublished(self, keys: Sequence[Any], exc: BaseException) -> bool:
        """Record that publishing the message naming ``keys`` raised; return whether to evict them.

        After a timeout the broker may have stored the event: the objects
        stay in the store (logged), and `failed` reports their keys with
        ``maybe_published``. Any other error means the event was not
        published: the keys are evicted again.
        """
        if not maybe_published(exc):
            return True
        self.kept = list(keys)
        _log.warning(
            "publishing on topic %r timed out (%s): the broker may have stored the event, so "
            "its object(s) stay in store %s under key(s) %r",
            self.topic,
            exc,
            self.store,
            self.kept,
        )
        return False

    def send_failed(
        self, obj: Any, metadata: dict[str, Any], exc: BaseException
    ) -> SendTimeoutError | None:
        """Return the error an unbatched send raises instead of ``exc``, if any.

        When publishing timed out and the object was kept in the store (see
        `unpublished`), that is a `SendTimeoutError` naming the object and
        its key; otherwise ``None``: ``exc`` is raised as it is.
        """
        kept, self.kept = self.kept, []
        if not kept or not isinstance(exc, Exception):
            return None
        failure = FailedSend(self.topic, self.accepted, obj, metadata, exc, kept[0], True)
        return SendTimeoutError(failure, getattr(exc, "backend", ""))

    def settled(self, buffer: Buffer) -> None:
        """Mark every object of ``buffer`` as stored and published."""
        buffer.outcome.settle(None)

    def failed(self, buffer: Buffer, exc: BaseException) -> BatchSendError | None:
        """Settle ``buffer`` with ``exc``; return the error naming its objects.

        Returns ``None`` for a ``BaseException`` that is not an ``Exception``
        (``KeyboardInterrupt``, cancellation), which the caller re-raises as it is.
        """
        buffer.outcome.settle(exc)  # nobody may wait for a batch that will never flush
        kept, self.kept = self.kept, []
        if not isinstance(exc, Exception):
            return None
        unsure = bool(kept)
        count = len(buffer.objs)
        # One key per object (a batch), or the one key of their aggregate.
        keys: list[Any] = kept if len(kept) == count else kept[:1] * count if kept else []
        failures = [
            FailedSend(
                self.topic,
                buffer.first + i,
                obj,
                metadata,
                exc,
                keys[i] if keys else None,
                unsure,
            )
            for i, (obj, metadata) in enumerate(zip(buffer.objs, buffer.metadatas, strict=True))
        ]
        error = BatchSendError(failures)
        error.__cause__ = exc
        return error
