"""One topic of an asyncio producer: the shared topic state, with store I/O in a thread.

The asyncio counterpart of [`_topic`][proxyflow.stream._topic]: both build on
[`TopicState`][proxyflow.stream._topic_state.TopicState], so the bytes on the
wire (signed or not), the results a flush settles, the
[`BatchSendError`][proxyflow.stream.exceptions.BatchSendError] a failed batch
raises and the keys evicted again are those of
[`StreamProducer`][proxyflow.stream.producer.StreamProducer]; so is the
keys kept after a publish that timed out, and the
roster: on a work-sharing publisher (``join`` / ``leave`` coroutines) a topic
joins before its first message and leaves after its end of stream. What
differs is waiting: stores are synchronous, so every ``put``, ``put_batch``
and ``evict`` runs in a worker thread (``asyncio.to_thread``) and the event
loop never blocks on a file or a network store; sends are awaited on the
async publisher. Inline objects need no thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from proxyflow.api import AsyncPublisher
from proxyflow.store import Store
from proxyflow.stream._signing import Signer
from proxyflow.stream._topic_state import Buffer, FailureCollector, TopicState, evict_quietly
from proxyflow.stream._wire import TopicCodec
from proxyflow.stream.exceptions import BatchSendError

__all__ = ["AsyncTopicPublisher", "for_each_async_topic"]


class AsyncTopicPublisher(TopicState):
    """Stores and publishes the objects of one asyncio producer on one topic.

    Every coroutine but the constructor must run with ``lock`` held (an
    ``asyncio.Lock``), so that sequence numbers on the wire follow
    publication order when several tasks send on the topic.

    Args:
        topic: The topic.
        store: The store of the topic's objects, or ``None`` to send them inline.
        codec: The topic's message writer.
        publisher: The asyncio broker publisher.
        producer_id: The producer's id, recorded in the publisher's roster.
        signer: Signs every message (``None``: messages are not signed).
    """

    __slots__ = ("lock", "producer_id", "publisher")

    def __init__(
        self,
        topic: str,
        store: Store | None,
        codec: TopicCodec,
        publisher: AsyncPublisher,
        producer_id: bytes,
        *,
        signer: Signer | None = None,
    ) -> None:
        # Joined already, or nothing to join (a publisher without a roster).
        joined = not callable(getattr(publisher, "join", None))
        super().__init__(topic, store, codec, joined=joined, flush=None, signer=signer)
        self.publisher = publisher
        self.producer_id = producer_id
        self.lock = asyncio.Lock()

    async def _join(self) -> None:
        if not self.joined:
            await self.publisher.join(self.topic, self.producer_id)  # type: ignore[attr-defined]
            self.joined = True

    async def _send_stored(self, store: Store, keys: list[Any], message: bytes) -> None:
        """Publish the message announcing ``keys``; evict them again (in a thread) if that fails.

        Not after a timeout: the broker may have stored the event (see
        `TopicState.unpublished`).
        """
        try:
            await self.publisher.send_message(self.topic, message)
        except BaseException as exc:
            if self.unpublished(keys, exc):
                await asyncio.to_thread(evict_quietly, store, keys)
            raise

    async def publish_one(self, obj: Any, metadata: bytes, evict: bool) -> None:
        """Store (in a thread) or serialize, then publish one object; ``metadata`` is packed."""
        await self._join()
        store = self.store
        if store is None:
            message = self.inline_message([self.serialize(obj)], [metadata])
            await self.publisher.send_message(self.topic, message)
        else:
            digest = None
            if self.signer is None:
                key = await asyncio.to_thread(store.put, obj)
            else:
                key, digest = await asyncio.to_thread(store.put_digested, obj)
            try:
                message = self.stored_message([key], [evict], [metadata], digest)
            except BaseException:
                await asyncio.to_thread(evict_quietly, store, [key])
                raise
            await self._send_stored(store, [key], message)
        self.sent(1)

    async def send_one(
        self, obj: Any, metadata: dict[str, Any], packed: bytes, evict: bool
    ) -> None:
        """Store and publish one object sent without batching, and count it as accepted.

        Raises:
            SendTimeoutError: If publishing timed out after the object was stored.
        """
        try:
            await self.publish_one(obj, packed, evict)
        except BaseException as exc:
            error = self.send_failed(obj, metadata, exc)
            if error is None:
                raise
            raise error from exc
        self.accepted += 1

    async def flush(self, aggregator: Callable[[list[Any]], Any] | None) -> None:
        """Store and publish the buffer: one object, one aggregate or one batch message.

        As in the synchronous producer, the buffer is emptied first, so a batch
        that fails is reported once; objects already stored for it are
        evicted again and its results report the error.

        Raises:
            BatchSendError: Naming every object of the failed batch.
        """
        buffer = self.take()
        if buffer is None:
            return
        try:
            if aggregator is not None:
                await self.publish_one(*self.aggregate(buffer, aggregator))
            else:
                await self._publish(buffer)
        except BaseException as exc:
            error = self.failed(buffer, exc)
            if error is None:
                raise  # cancellation and the like stay what they are
            raise error from exc
        self.settled(buffer)

    async def _publish(self, buffer: Buffer) -> None:
        """Store the serialized objects of ``buffer`` (in a thread) and publish one message."""
        await self._join()
        store = self.store
        if store is None:
            message = self.inline_message(buffer.pieces, buffer.packed)
            await self.publisher.send_message(self.topic, message)
        else:
            keys = await asyncio.to_thread(store.put_serialized_batch, buffer.pieces)
            try:
                digests = self.digests(buffer.pieces)  # of the bytes just stored
                message = self.stored_message(keys, buffer.evicts, buffer.packed, digests)
            except BaseException:
                await asyncio.to_thread(evict_quietly, store, keys)
                raise
            await self._send_stored(store, keys, message)
        self.sent(len(buffer.pieces))

    async def end(self, aggregator: Callable[[list[Any]], Any] | None) -> None:
        """Flush, then publish the end-of-stream event once and leave the roster.

        The end-of-stream event is sent even if the flush failed.

        Raises:
            BatchSendError: If the flush failed (after the end-of-stream was sent).
        """
        if self.closed:
            return
        failed: BatchSendError | None = None
        try:
            await self.flush(aggregator)
        except BatchSendError as exc:
            failed = exc
        await self._join()
        await self.publisher.send_message(self.topic, self.end_message())
        self.sent(1)
        self.closed = True
        leave = getattr(self.publisher, "leave", None)
        if callable(leave):
            await leave(self.topic, self.producer_id)
        if failed is not None:
            raise failed


async def for_each_async_topic(
    states: Iterable[AsyncTopicPublisher],
    step: Callable[[AsyncTopicPublisher], Awaitable[None]],
) -> None:
    """Await ``step`` on every topic under its lock, then report every failed batch at once.

    Raises:
        BatchSendError: Naming the objects of every batch that failed.
    """
    collector = FailureCollector()
    for state in states:
        async with state.lock:
            try:
                await step(state)
            except BatchSendError as exc:
                collector.add(exc)
    collector.raise_any()
