"""How the asyncio consumer (`AsyncStreamConsumer`) hands out its next item.

Kept apart from the consumer's shell, as ``_reading`` is for the synchronous
consumer: `AsyncReading` is mixed into it. The next kept item is selected on
the loop when that touches no store, in a worker thread otherwise; work that a
cancelled call started in a thread is kept (``_held``) and handed to the next
call, so a cancelled task loses nothing. With ``prefetch``, the resolving
calls (and every call once prefetch started) are served by the prefetch task
instead (``_async_readahead``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable
from typing import Any, cast

from proxyflow.stream._acking import release_before_next
from proxyflow.stream._async_acking import AsyncAcknowledging, Resolved, read
from proxyflow.stream._async_readahead import AsyncReadAhead
from proxyflow.stream._async_receive import AsyncReceiver
from proxyflow.stream._decode import StoredItem
from proxyflow.stream._draining import end_wait
from proxyflow.stream._reader import EventReader
from proxyflow.stream._resolver import StoreResolver
from proxyflow.stream._source import InlineObject, Kept, ObjectSource
from proxyflow.stream._stats import ConsumerStats
from proxyflow.stream.exceptions import ConsumerClosedError

__all__ = ["AsyncReading"]


class AsyncReading(AsyncReadAhead, AsyncAcknowledging):
    """``_next_item`` of an asyncio stream consumer (and prefetch, and acknowledgements)."""

    stats: ConsumerStats
    _filters: bool
    _held: deque[asyncio.Future[Any]]
    _lock: asyncio.Lock
    _reader: EventReader
    _receiver: AsyncReceiver
    _resolver: StoreResolver
    _source: ObjectSource

    async def _receive(self, wait: float | None = None) -> bool:
        """Await one message and decode it (see `AsyncReceiver.receive`)."""
        return await self._receiver.receive(wait)

    def _select(self) -> Kept | None:
        """The next kept item of those decoded (``None``: none left); may touch a store."""
        source = self._source
        with source.lock:
            return source.next(probe=True, receive=False)

    def _on_loop(self) -> bool:
        """Whether selecting the next pending item touches no store (so needs no thread)."""
        if self._filters:
            return False
        item = self._reader.pending[0]
        return type(item) is not StoredItem or item.store_config in self._resolver.cache

    async def _select_pending(self) -> Kept | None:
        """Select among the decoded items (on the loop, or in a thread if a store is touched).

        What the selection settled (items it dropped) is passed to the broker
        before this returns, also when it raises.
        """
        try:
            if self._on_loop():
                return self._select()
            return cast("Kept | None", await self._in_thread(self._select))
        finally:
            if self._acks is not None:
                await self._acks.drain()

    async def _in_thread(self, call: Any, *args: Any) -> Any:
        """Run ``call`` in a worker thread; if this task is cancelled, keep its result."""
        return await self._keep_if_cancelled(asyncio.to_thread(call, *args))

    async def _keep_if_cancelled(self, work: Awaitable[Any]) -> Any:
        """Await ``work`` in a task of its own; if this task is cancelled, keep its result.

        The work goes on, and the next call hands out what it returns (``_held``).
        """
        future = asyncio.ensure_future(work)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if not future.cancelled():
                self._held.append(future)  # the next call takes what it returns
            raise

    async def _next_kept(self) -> Kept | Resolved:
        """Return the next kept item (lock held), or an object a cancelled call read."""
        if self._closed:
            raise ConsumerClosedError("the consumer is closed")
        while self._held:
            future = self._held[0]
            await asyncio.wait({future})  # if this task is cancelled, the work stays first
            self._held.popleft()
            if future.exception() is not None and self._acks is not None:
                await self._acks.drain()  # what the failed work settled
            result = future.result()  # or its error, in its place in the stream
            if result is not None:
                return cast("Kept | Resolved", result)
        reader = self._reader
        while True:
            if reader.pending:
                kept = await self._select_pending()
                if kept is not None:
                    return kept
            elif reader.ending.done:
                waiting = end_wait(reader, self._acks, self._source.drain)
                if waiting is None:
                    raise StopAsyncIteration
                await self._await_end(waiting)
            else:
                await self._receive()

    async def _next_item(self, *, resolve: bool) -> tuple[dict[str, Any], Any]:
        acks = self._acks
        if acks is not None and release_before_next(acks, self._closed):
            await acks.drain()
        prefetcher = self._prefetcher
        if prefetcher is not None and (resolve or prefetcher.started):
            return await self._take_prefetched(prefetcher)
        async with self._lock:
            kept = await self._next_kept()
            store = self._source.store
            self.stats.objects += 1
        if acks is not None and type(kept) is not Resolved:
            return await self._held_item(acks, cast(Kept, kept), store, resolve=resolve)
        if type(kept) is Resolved:
            if acks is not None and kept.ticket is not None:
                acks.hand_out(kept.value, kept.ticket)
            return kept.metadata, kept.value
        if type(kept) is InlineObject:
            return kept.item.metadata, kept.value
        assert store is not None
        stored = cast(StoredItem, kept)
        if not resolve:
            proxy = store.proxy_from_key(stored.key, evict=stored.evict, digest=stored.digest)
            return stored.metadata, proxy
        # A read whose task is cancelled is handed to the next call.
        value: Resolved = await self._keep_if_cancelled(read(store, stored))
        return value.metadata, value.value
