"""One topic of a producer: its store, buffer and sequence numbers, and how it publishes.

The decisions (what to send, which results a flush settles, what a failure
reports) are [`_topic_state`][proxyflow.stream._topic_state]'s, shared with
the asyncio producer; this module does the synchronous I/O.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from proxyflow.store import Store
from proxyflow.stream._signing import Signer
from proxyflow.stream._topic_state import (
    INLINE_SERIALIZER,
    Buffer,
    FailureCollector,
    TopicState,
    evict_quietly,
)
from proxyflow.stream._wire import TopicCodec
from proxyflow.stream.exceptions import BatchSendError
from proxyflow.stream.protocols import Publisher

__all__ = ["INLINE_SERIALIZER", "Buffer", "TopicPublisher", "for_each_topic"]


def _no_flush() -> None:
    """Flush callback of a topic whose producer gave none (nothing to do)."""


class TopicPublisher(TopicState):
    """Stores and publishes the objects of one producer on one topic.

    Holds the topic's store (``None``: inline), its message writer, its
    buffer of pending sends and its next sequence number. Every method but the
    constructor must be called with ``lock`` held, so that sequence numbers on
    the wire follow publication order.

    **Roster.** When the publisher keeps a roster of producers (a
    ``proxyflow.api.WorkSharingPublisher``: it has ``join`` and ``leave``),
    the topic joins it before its first message and leaves it after its
    end-of-stream event, so consumers of a work-sharing broker know when
    every producer is done.

    Args:
        topic: The topic.
        store: The store of the topic's objects, or ``None`` to send them inline.
        codec: The topic's message writer.
        publisher: The broker publisher.
        producer_id: The producer's id, recorded in the publisher's roster
            (``None``: no roster).
        flush: Flushes this topic under its lock (called by a `SendResult`
            whose object is still buffered).
        signer: Signs every message (``None``: messages are not signed).
    """

    __slots__ = ("lock", "producer_id", "publisher")

    def __init__(
        self,
        topic: str,
        store: Store | None,
        codec: TopicCodec,
        publisher: Publisher,
        *,
        producer_id: bytes | None = None,
        flush: Callable[[], None] = _no_flush,
        signer: Signer | None = None,
    ) -> None:
        # Joined already, or nothing to join (no id, or a publisher without a roster).
        joined = producer_id is None or not callable(getattr(publisher, "join", None))
        super().__init__(topic, store, codec, joined=joined, flush=flush, signer=signer)
        self.publisher = publisher
        self.producer_id = producer_id
        self.lock = threading.Lock()

    def _join(self) -> None:
        if not self.joined:
            self.publisher.join(self.topic, self.producer_id)  # type: ignore[attr-defined]
            self.joined = True

    def publish_one(self, obj: Any, metadata: bytes, evict: bool) -> None:
        """Store (or serialize) and publish one object; ``metadata`` is packed."""
        self._join()
        store = self.store
        if store is None:
            message = self.inline_message([self.serialize(obj)], [metadata])
            self.publisher.send_message(self.topic, message)
        else:
            digest = None
            if self.signer is None:
                key = store.put(obj)
            else:
                key, digest = store.put_digested(obj)
            try:
                message = self.stored_message([key], [evict], [metadata], digest)
                self.publisher.send_message(self.topic, message)
            except BaseException as exc:
                if self.unpublished([key], exc):
                    evict_quietly(store, [key])
                raise
        self.sent(1)

    def send_one(self, obj: Any, metadata: dict[str, Any], packed: bytes, evict: bool) -> None:
        """Store and publish one object sent without batching, and count it as accepted.

        Raises:
            SendTimeoutError: If publishing timed out after the object was stored.
        """
        try:
            self.publish_one(obj, packed, evict)
        except BaseException as exc:
            error = self.send_failed(obj, metadata, exc)
            if error is None:
                raise
            raise error from exc
        self.accepted += 1

    def flush(self, aggregator: Callable[[list[Any]], Any] | None) -> None:
        """Store and publish the buffer: one object, one aggregate or one batch message.

        The buffer is emptied first: a batch that fails (a store or broker
        error, an aggregator that raises) is reported once, not by every later
        flush; objects already stored for it are evicted again (the store's
        batches are all or nothing) and its results report the error. After a
        publish that timed out they stay (the broker may have the event):
        each `FailedSend` has ``maybe_published`` and its key.

        Raises:
            BatchSendError: Naming every object of the failed batch.
        """
        buffer = self.take()
        if buffer is None:
            return
        try:
            if aggregator is not None:
                self.publish_one(*self.aggregate(buffer, aggregator))
            else:
                self._publish(buffer)
        except BaseException as exc:
            error = self.failed(buffer, exc)
            if error is None:
                raise  # KeyboardInterrupt and the like stay what they are
            raise error from exc
        self.settled(buffer)

    def _publish(self, buffer: Buffer) -> None:
        """Store the serialized objects of ``buffer`` and publish them as one message."""
        self._join()
        store = self.store
        if store is None:
            message = self.inline_message(buffer.pieces, buffer.packed)
            self.publisher.send_message(self.topic, message)
        else:
            keys = store.put_serialized_batch(buffer.pieces)
            try:
                digests = self.digests(buffer.pieces)  # of the bytes just stored
                message = self.stored_message(keys, buffer.evicts, buffer.packed, digests)
                self.publisher.send_message(self.topic, message)
            except BaseException as exc:
                if self.unpublished(keys, exc):
                    evict_quietly(store, keys)
                raise
        self.sent(len(buffer.pieces))

    def end(self, aggregator: Callable[[list[Any]], Any] | None) -> None:
        """Flush, then publish the end-of-stream event once and leave the roster.

        The end-of-stream event is sent even if the flush failed (the failed
        objects used no sequence numbers, so consumers see no gap).

        Raises:
            BatchSendError: If the flush failed (after the end-of-stream was sent).
        """
        if self.closed:
            return
        failed: BatchSendError | None = None
        try:
            self.flush(aggregator)
        except BatchSendError as exc:
            failed = exc
        self._join()
        self.publisher.send_message(self.topic, self.end_message())
        self.sent(1)
        self.closed = True
        leave = getattr(self.publisher, "leave", None)
        if self.producer_id is not None and callable(leave):
            leave(self.topic, self.producer_id)
        if failed is not None:
            raise failed


def for_each_topic(
    states: Iterable[TopicPublisher], step: Callable[[TopicPublisher], None]
) -> None:
    """Run ``step`` on every topic under its lock, then report every failed batch at once.

    Raises:
        BatchSendError: Naming the objects of every batch that failed (the
            first failure's cause is the ``__cause__``).
    """
    collector = FailureCollector()
    for state in states:
        with state.lock:
            try:
                step(state)
            except BatchSendError as exc:
                collector.add(exc)
    collector.raise_any()
