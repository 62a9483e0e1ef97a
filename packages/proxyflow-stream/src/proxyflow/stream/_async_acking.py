"""The acknowledgement methods of the asyncio consumer (`AsyncStreamConsumer`).

Kept apart from the consumer's shell, as ``_acking`` is for the synchronous
consumer: `AsyncAcknowledging` is mixed into it and works on its
[`AsyncAckTracker`][proxyflow.stream._async_acks.AsyncAckTracker] (``_acks``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, NamedTuple, cast

from proxyflow.api import AsyncSubscriber
from proxyflow.store import Store
from proxyflow.stream._ack_types import Outcome, Ticket
from proxyflow.stream._acking import acks_unavailable
from proxyflow.stream._async_acks import AsyncAckTracker
from proxyflow.stream._decode import StoredItem
from proxyflow.stream._draining import EndWait, GroupDrain
from proxyflow.stream._resolver import fetch_async
from proxyflow.stream._settling import SettleClock
from proxyflow.stream._source import InlineObject, Kept, ObjectSource

__all__ = ["AsyncAcknowledging", "Resolved", "read"]


class Resolved(NamedTuple):
    """An object read from its store, with its metadata (a cancelled call's is kept).

    Attributes:
        metadata: The item's metadata.
        value: The object.
        ticket: With acknowledgements, the item's ticket, to hand it out with.
    """

    metadata: dict[str, Any]
    value: Any
    ticket: Ticket | None = None


async def read(
    store: Store,
    kept: StoredItem,
    acks: AsyncAckTracker | None = None,
    ticket: Ticket | None = None,
) -> Resolved:
    """Read a stored item's object (`fetch_async`: on the loop, or in a worker thread).

    With acknowledgements, a failed read settles the item's ticket (in the
    books; the broker call is awaited by the next ``drain``).
    """
    try:
        value = await fetch_async(store, kept)
    except BaseException as exc:
        if acks is not None and ticket is not None:
            acks.failed(ticket, exc)
        raise
    return Resolved(kept.metadata, value, ticket)


class AsyncAcknowledging:
    """``ack``, ``nack``, ``reject`` and ``delivery_count`` of an asyncio stream consumer."""

    _acks: AsyncAckTracker | None
    _subscriber: AsyncSubscriber
    _timeout: float | None
    _closed: bool
    _source: ObjectSource

    async def _keep_if_cancelled(self, work: Awaitable[Any]) -> Any:
        raise NotImplementedError

    async def _receive(self, wait: float | None = None) -> bool:
        raise NotImplementedError

    async def _await_settled(self, acks: AsyncAckTracker) -> None:
        """At the end of the stream, wait until nothing read is unsettled or owed back.

        The asyncio form of the synchronous consumer's wait (``_source``):
        returns when a message came or nothing is outstanding; every
        settlement restarts the timeout.

        Raises:
            ConsumerTimeoutError: If nothing was settled and no message came in time.
        """
        clock = SettleClock(acks, self._timeout)
        while acks.outstanding() and not self._closed:
            if await self._receive(clock.next_wait()):
                return

    async def _await_end(self, waiting: EndWait) -> None:
        """Wait for what the end of the stream still waits for (see `end_wait`)."""
        acks, drain = self._acks, self._source.drain
        if waiting is EndWait.SETTLE and acks is not None:
            await self._await_settled(acks)
        elif waiting is EndWait.DRAIN and drain is not None:
            await self._await_drained(drain)

    async def _await_drained(self, drain: GroupDrain) -> None:
        """At the end of the stream, read on until the group's backlog is empty.

        The asyncio form of the synchronous consumer's wait (``_source``, see
        `GroupDrain`): the backlogs are awaited. Returns when they are empty,
        a message came or the consumer was closed.

        Raises:
            ConsumerTimeoutError: If no message came and the backlog did not
                change within the consumer's timeout.
        """
        drain.start()
        while not self._closed:
            try:
                backlogs = [await drain.backlog(topic) for topic in drain.topics()]
            except EOFError:  # the subscriber was closed: the stream ends here
                drain.drained = True
                return
            if drain.observe(backlogs) or await self._receive(drain.next_wait()):
                return
        drain.drained = True  # closed while waiting: the stream ends here

    async def _held_item(
        self, acks: AsyncAckTracker, kept: Kept, store: Store | None, *, resolve: bool
    ) -> tuple[dict[str, Any], Any]:
        """Hand out an item of a delivery: tracked, and read without evicting."""
        if type(kept) is InlineObject:
            ticket = acks.take(kept.item, None)
            acks.hand_out(kept.value, ticket)
            return kept.item.metadata, kept.value
        assert store is not None
        stored = cast(StoredItem, kept)
        ticket = acks.take(stored, store)
        stored = stored._replace(evict=False)  # evicted when its delivery is acknowledged
        if resolve:
            try:
                # Cancelled, the read goes on and the next call hands it out with its ticket.
                value = (await self._keep_if_cancelled(read(store, stored, acks, ticket))).value
            except asyncio.CancelledError:
                raise
            except BaseException:
                await acks.drain()  # read() settled the ticket in the books
                raise
        else:
            value = store.proxy_from_key(stored.key, evict=False, digest=stored.digest)
        acks.hand_out(value, ticket)
        return stored.metadata, value

    async def ack(self, item: Any) -> None:
        """Acknowledge an item: never delivered again; its object is evicted if asked.

        See [`StreamConsumer.ack`][proxyflow.stream.consumer.StreamConsumer.ack];
        the broker's confirmation is awaited before the object is evicted.

        Raises:
            ItemNotHeldError: If ``item`` is not an unsettled item of this consumer.
            AcknowledgementsUnavailableError: If the subscriber cannot acknowledge.
        """
        acks = self._tracker()
        acks.settle(item, Outcome.ACK)
        await acks.drain()

    async def nack(self, item: Any, delay: float | None = None) -> None:
        """Give an item back: its message comes again after ``delay`` s (``None``: soon).

        Raises:
            ValueError: If ``delay`` is negative (the item stays held).
            ItemNotHeldError: If ``item`` is not an unsettled item of this consumer.
            AcknowledgementsUnavailableError: If the subscriber cannot acknowledge.
        """
        if delay is not None and not delay >= 0:
            raise ValueError(f"delay must be >= 0 seconds or None, got {delay!r}")
        acks = self._tracker()
        acks.settle(item, Outcome.NACK, delay)
        await acks.drain()

    async def reject(self, item: Any) -> None:
        """Give up on an item: its message goes to the shim's dead letters, if any.

        Raises:
            ItemNotHeldError: If ``item`` is not an unsettled item of this consumer.
            AcknowledgementsUnavailableError: If the subscriber cannot acknowledge.
        """
        acks = self._tracker()
        acks.settle(item, Outcome.REJECT)
        await acks.drain()

    def delivery_count(self, item: Any) -> int:
        """Return how many times the broker has handed out the message of an unsettled item.

        Raises:
            ItemNotHeldError: If ``item`` is not an unsettled item of this consumer.
            AcknowledgementsUnavailableError: If the subscriber cannot acknowledge.
        """
        return self._tracker().ticket_of(item).delivery_count

    def _tracker(self) -> AsyncAckTracker:
        if self._acks is None:
            raise acks_unavailable(self._subscriber)
        return self._acks
