"""The redis-py driver of the Streams group reader, behind ``RedisStreamSubscriber``.

[`GroupReader`][proxyflow.shims.redis._streams_group.GroupReader] runs the
steps of [`GroupCore`][proxyflow.shims.redis._streams_core.GroupCore] (one
poll, settling deliveries from any thread, giving everything back at close)
by calling its redis-py client: all the logic lives in the core.
"""

from __future__ import annotations

from typing import TypeVar

import redis

from proxyflow.api import DeliveryOutcome, GroupBacklog, Roster
from proxyflow.shims.redis._streams_core import ReaderBase
from proxyflow.shims.redis._streams_state import DeliveryState
from proxyflow.shims.redis._streams_steps import Step
from proxyflow.shims.redis.stream_delivery import RedisStreamDelivery

__all__ = ["GroupReader"]

T = TypeVar("T")


class GroupReader(ReaderBase[redis.Redis]):
    """One subscriber's reads, settlements and close, on its redis-py client.

    Constructed like [`ReaderBase`][proxyflow.shims.redis._streams_core.ReaderBase]
    (the client is a pool: settling from other threads uses other connections
    than the reader's).
    """

    def create_groups(self, start: str) -> None:
        """Create the group on every stream (see `GroupCore.create_groups`)."""
        self._run(self._core.create_groups(start))

    def take(self, wait: float) -> RedisStreamDelivery | None:
        """One poll: a buffered entry, else a reclaim when due, else one read."""
        entry = self._inbox.take()  # a buffered entry: no command, no step
        if entry is None:
            entry = self._run(self._core.fetch(wait))
            if entry is None:
                return None
        delivery = RedisStreamDelivery(entry, self)
        self._inbox.hand_out(delivery)
        return delivery

    def _settle(
        self, delivery: DeliveryState, outcome: DeliveryOutcome, delay: float | None
    ) -> None:
        step = self._core.settle(delivery, outcome, delay)
        if step is not None:
            self._run(step)

    def give_back(self, late: RedisStreamDelivery | None) -> None:
        """Give everything held back to the group, then close the client."""
        try:
            self._run(self._core.give_back([] if late is None else [late]))
        finally:
            self._client.close()

    def roster(self, topic: str) -> Roster:
        """Return the producers that joined and left ``topic``."""
        return self._run(self._core.roster(topic))

    def backlog(self, topic: str) -> GroupBacklog:
        """Return what the group has left of ``topic`` (see ``_streams_backlog``)."""
        return self._run(self._core.backlog(topic))

    # -- the driver ---------------------------------------------------------------------

    def _run(self, step: Step[T]) -> T:
        """Execute the commands of ``step``, feeding back replies (or errors); return its result."""
        client, scripts = self._client, self._scripts
        try:
            command = next(step)
            while True:
                try:
                    reply = command.run(client, scripts)
                except BaseException as exc:  # the step translates it, or lets it through
                    command = step.throw(exc)
                else:
                    command = step.send(reply)
        except StopIteration as done:
            result: T = done.value
            return result
