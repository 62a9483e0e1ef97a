"""One topic of a producer: its store, buffer and sequence numbers, and how it publishes."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from proxyflow.serialize import DEFAULT_SERIALIZER, serialize_parts
from proxyflow.store import Store
from proxyflow.stream._wire import TopicCodec, pack
from proxyflow.stream.protocols import Publisher

__all__ = ["INLINE_SERIALIZER", "Buffer", "TopicPublisher"]

INLINE_SERIALIZER = DEFAULT_SERIALIZER
"""The [`proxyflow.serialize`][proxyflow.serialize] serializer used for objects sent inline."""


class Buffer:
    """The ``send()`` calls waiting for their batch to be flushed, one list per field.

    Kept as columns rather than one record per send: ``send()`` appends to
    each list, and a flush hands the objects to ``put_batch`` and the other
    fields to the message writer as they are. The four lists always have the
    same length.

    Attributes:
        objs: The objects.
        metadatas: Their metadata, as ``dict``.
        packed: Their metadata, packed with msgpack.
        evicts: Whether reading each object removes it from its store.
    """

    __slots__ = ("evicts", "metadatas", "objs", "packed")

    def __init__(self) -> None:
        self.objs: list[Any] = []
        self.metadatas: list[dict[str, Any]] = []
        self.packed: list[bytes] = []
        self.evicts: list[bool] = []


class TopicPublisher:
    """Stores and publishes the objects of one producer on one topic.

    Holds the topic's store (``None``: inline), its message writer, its
    buffer of pending sends and its next sequence number. Every method but the
    constructor must be called with ``lock`` held, so that sequence numbers on
    the wire follow publication order.

    Args:
        topic: The topic.
        store: The store of the topic's objects, or ``None`` to send them inline.
        codec: The topic's message writer.
        publisher: The broker publisher.
    """

    __slots__ = ("buffer", "closed", "codec", "lock", "next_seq", "publisher", "store", "topic")

    def __init__(
        self, topic: str, store: Store | None, codec: TopicCodec, publisher: Publisher
    ) -> None:
        self.topic = topic
        self.store = store
        self.codec = codec
        self.publisher = publisher
        self.lock = threading.Lock()
        self.buffer = Buffer()
        self.next_seq = 0
        self.closed = False

    def publish_one(self, obj: Any, metadata: bytes, evict: bool) -> None:
        """Store (or serialize) and publish one object; ``metadata`` is packed."""
        seq = self.next_seq
        store = self.store
        if store is None:
            message = self.codec.inline_event(
                seq, INLINE_SERIALIZER, serialize_parts(obj), metadata
            )
            self.publisher.send_message(self.topic, message)
        else:
            key = store.put(obj)
            try:
                message = self.codec.key_event(seq, key, evict, metadata)
                self.publisher.send_message(self.topic, message)
            except BaseException:
                with contextlib.suppress(Exception):
                    store.evict(key)
                raise
        self.next_seq = seq + 1

    def flush(self, aggregator: Callable[[list[Any]], Any] | None) -> None:
        """Store and publish the buffer: one object, one aggregate or one batch message.

        The buffer is emptied first: a batch that fails (an unserializable
        object, a broker error) is reported once, not by every later flush,
        and objects already stored for it are evicted again (best effort).
        """
        buffer = self.buffer
        count = len(buffer.objs)
        if not count:
            return
        self.buffer = Buffer()
        if aggregator is not None:
            merged: dict[str, Any] = {}
            for metadata in buffer.metadatas:
                merged.update(metadata)
            obj = aggregator(buffer.objs)
            # ProxyStore's rule: evicted if any buffered send asked for it.
            self.publish_one(obj, pack(merged), any(buffer.evicts))
            return
        if count == 1:
            self.publish_one(buffer.objs[0], buffer.packed[0], buffer.evicts[0])
            return
        seq = self.next_seq
        seqs = range(seq, seq + count)
        store = self.store
        if store is None:
            message = self.codec.inline_batch(
                seqs,
                INLINE_SERIALIZER,
                [serialize_parts(obj) for obj in buffer.objs],
                buffer.packed,
            )
            self.publisher.send_message(self.topic, message)
        else:
            keys = store.put_batch(buffer.objs)
            try:
                message = self.codec.key_batch(seqs, keys, buffer.evicts, buffer.packed)
                self.publisher.send_message(self.topic, message)
            except BaseException:
                for key in keys:
                    with contextlib.suppress(Exception):
                        store.evict(key)
                raise
        self.next_seq = seq + count

    def end(self, aggregator: Callable[[list[Any]], Any] | None) -> None:
        """Flush, then publish the end-of-stream event once."""
        if self.closed:
            return
        self.flush(aggregator)
        self.publisher.send_message(self.topic, self.codec.end_of_stream(self.next_seq))
        self.next_seq += 1
        self.closed = True
