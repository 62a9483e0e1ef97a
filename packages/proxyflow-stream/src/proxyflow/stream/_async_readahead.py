"""Prefetch for the asyncio consumer: what one fill reads, and how prefetched items are handed out.

The asyncio form of [`ReadAhead`][proxyflow.stream._readahead.ReadAhead] and
of the synchronous consumer's ``_take``: `AsyncReadAhead` is mixed into
[`AsyncStreamConsumer`][proxyflow.stream.async_consumer.AsyncStreamConsumer].
A fill takes the consumer's ``asyncio.Lock``, awaits the next kept item as a
resolving call would (``_next_kept``: messages awaited on the loop, selection
in a worker thread when it may touch a store), adds the items to be had
without waiting, then reads their objects in the prefetcher's worker thread with the
synchronous prefetch's `resolve` / `resolve_held` (consecutive objects of
one store in one ``get_batch``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from proxyflow.stream._async_acking import Resolved
from proxyflow.stream._async_acks import AsyncAckTracker
from proxyflow.stream._async_prefetch import AsyncPrefetcher
from proxyflow.stream._prefetch import Entry, PrefetchStopped
from proxyflow.stream._readahead import ProbeBackoff, open_entry, resolve, resolve_held
from proxyflow.stream._reader import EventReader
from proxyflow.stream._source import Kept, ObjectSource
from proxyflow.stream._stats import ConsumerStats
from proxyflow.stream.exceptions import ConsumerClosedError

__all__ = ["STOP_TIMEOUT", "AsyncReadAhead"]

STOP_TIMEOUT = 10.0
"""Seconds ``close()`` waits for the prefetch task (and a store read it started) to end."""


class AsyncReadAhead:
    """``_fill`` and ``_take_prefetched`` of an asyncio stream consumer with ``prefetch > 0``."""

    stats: ConsumerStats
    _acks: AsyncAckTracker | None
    _closed: bool
    _held: deque[asyncio.Future[Any]]
    _lock: asyncio.Lock
    _prefetcher: AsyncPrefetcher | None
    _reader: EventReader
    _source: ObjectSource
    _probes: ProbeBackoff

    async def _next_kept(self) -> Kept | Resolved:
        raise NotImplementedError

    async def _receive(self, wait: float | None = None) -> bool:
        raise NotImplementedError

    async def _select_pending(self) -> Kept | None:
        raise NotImplementedError

    async def _fill(self, room: int) -> tuple[list[Entry], bool]:
        """Return up to ``room`` entries in stream order, and whether the task should stop.

        Raises what ``_next_kept`` raises for the first item (the end of the
        stream, a timeout, a bad message...): the prefetcher makes it the entry.
        """
        error: Exception | None = None
        async with self._lock:
            first = await self._next_kept()
            if type(first) is Resolved:  # read by a cancelled call: handed out alone
                if first.ticket is None:
                    return [(first.metadata, first.value)], False
                return [(first.metadata, first.value, first.ticket)], False
            batch: list[Kept] = [first]  # type: ignore[list-item]
            receive = self._probes.begin()
            taken = self._reader.taken
            while len(batch) < room:
                try:
                    found = await self._probe(receive)
                except Exception as exc:  # raised in its turn, after the batch
                    error = exc
                    break
                if found is None:
                    break
                batch.append(found)
            if receive and room > 1:
                self._probes.end(found=self._reader.taken > taken)
        entries, failed = await self._read_batch(batch)
        if error is not None:
            entries.append(error)
        return entries, error is not None or failed

    async def _probe(self, receive: bool) -> Kept | None:
        """The next kept item to be had without waiting, or ``None`` (the lock is held).

        Takes items already decoded and, with ``receive``, messages that
        already arrived; never passes work a cancelled call left (``_held``).
        """
        reader = self._reader
        while not self._held:
            if reader.pending:
                kept = await self._select_pending()
                if kept is not None:
                    return kept
            elif not receive or reader.ending.done or not await self._receive(0):
                return None
        return None

    async def _read_batch(self, batch: list[Kept]) -> tuple[list[Entry], bool]:
        """Read the objects of ``batch`` in the prefetch thread; let the read finish if cancelled.

        With acknowledgements the objects are read without evicting them and
        each entry carries its item's ticket; what a failed read settled is
        then awaited.
        """
        acks = self._acks
        stores = self._source.resolver.cache
        prefetcher = self._prefetcher
        assert prefetcher is not None
        if acks is None:
            work = prefetcher.in_worker(resolve, batch, stores)
        else:
            work = prefetcher.in_worker(resolve_held, batch, acks, stores)
        try:
            entries, failed = await asyncio.shield(work)
        except asyncio.CancelledError:
            await asyncio.wait({work})  # closing: no store is touched once the task has ended
            raise
        if acks is not None and failed:
            try:
                await acks.drain()  # the broker calls of the failed items' settlements
            except Exception as exc:
                entries.append(exc)
        return entries, failed

    async def _take_prefetched(self, prefetcher: AsyncPrefetcher) -> tuple[dict[str, Any], Any]:
        """Return the next prefetched object, or raise the error recorded in its place."""
        if self._closed:
            raise ConsumerClosedError("the consumer is closed")
        while True:
            try:
                entry = await prefetcher.take()
            except PrefetchStopped:
                raise StopAsyncIteration from None  # closed while waiting: the stream ended
            item = open_entry(entry, self.stats, self._acks, self._reader, StopAsyncIteration)
            if item is not None:
                return item

    async def _stop_prefetch(self, prefetcher: AsyncPrefetcher) -> None:
        """Stop the prefetch task; wait for work it left to a worker thread (``_held``)."""
        await prefetcher.stop(STOP_TIMEOUT)
        held = set(self._held)
        if held:
            await asyncio.wait(held, timeout=STOP_TIMEOUT)
            for future in held:
                if future.done() and not future.cancelled():
                    future.exception()  # retrieved: the consumer is closed, nobody takes it
