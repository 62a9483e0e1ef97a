"""The ``redis.asyncio`` driver of the Streams group reader, behind ``AsyncRedisStreamSubscriber``.

[`AsyncGroupReader`][proxyflow.shims.redis._streams_async_group.AsyncGroupReader]
runs the steps of [`GroupCore`][proxyflow.shims.redis._streams_core.GroupCore]
by awaiting its ``redis.asyncio`` client: the same steps as the redis-py
[`GroupReader`][proxyflow.shims.redis._streams_group.GroupReader], and all
the logic in the core.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import redis.asyncio

from proxyflow.api import DeliveryOutcome, GroupBacklog, Roster
from proxyflow.shims.redis._streams_core import ReaderBase
from proxyflow.shims.redis._streams_state import DeliveryState
from proxyflow.shims.redis._streams_steps import Step
from proxyflow.shims.redis.stream_delivery import AsyncRedisStreamDelivery

__all__ = ["AsyncGroupReader"]

T = TypeVar("T")


class AsyncGroupReader(ReaderBase[redis.asyncio.Redis]):
    """One asyncio subscriber's reads, settlements and close, on its client.

    Constructed like [`ReaderBase`][proxyflow.shims.redis._streams_core.ReaderBase],
    with a ``redis.asyncio`` client; settle its deliveries on its event loop.
    """

    async def create_groups(self, start: str) -> None:
        """Create the group on every stream (see `GroupCore.create_groups`)."""
        await self._run(self._core.create_groups(start))

    async def take(self, wait: float) -> AsyncRedisStreamDelivery | None:
        """One poll: a buffered entry, else a reclaim when due, else one read."""
        entry = self._inbox.take()  # a buffered entry: no command, no step
        if entry is None:
            entry = await self._run(self._core.fetch(wait))
            if entry is None:
                return None
        delivery = AsyncRedisStreamDelivery(entry, self)
        self._inbox.hand_out(delivery)
        return delivery

    async def _settle(
        self, delivery: DeliveryState, outcome: DeliveryOutcome, delay: float | None
    ) -> None:
        step = self._core.settle(delivery, outcome, delay)
        if step is not None:
            await self._run(step)

    async def give_back(self, late: Sequence[AsyncRedisStreamDelivery]) -> None:
        """Give everything held back to the group, then close the client."""
        try:
            await self._run(self._core.give_back(late))
        finally:
            await self._client.aclose()

    async def roster(self, topic: str) -> Roster:
        """Return the producers that joined and left ``topic``."""
        return await self._run(self._core.roster(topic))

    async def backlog(self, topic: str) -> GroupBacklog:
        """Return what the group has left of ``topic`` (see ``_streams_backlog``)."""
        return await self._run(self._core.backlog(topic))

    # -- the driver ---------------------------------------------------------------------

    async def _run(self, step: Step[T]) -> T:
        """Await the commands of ``step``, feeding back replies (or errors); return its result."""
        client, scripts = self._client, self._scripts
        try:
            command = next(step)
            while True:
                try:
                    reply = await command.run(client, scripts)
                except BaseException as exc:  # the step translates it, or lets it through
                    command = step.throw(exc)
                else:
                    command = step.send(reply)
        except StopIteration as done:
            result: T = done.value
            return result
