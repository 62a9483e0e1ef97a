"""Acknowledgements for the asyncio consumer: the sync books, with awaited broker calls.

[`AckTracker`][proxyflow.stream._acks.AckTracker] keeps the books (which
delivery each item belongs to, when a delivery is settled and how) and talks
to the broker synchronously. Here its broker calls are deferred instead:

* an asyncio delivery is wrapped in a `DeferredDelivery`, whose ``ack``,
  ``nack`` and ``reject`` only queue the call (the tracker settles
  end-of-stream events and bad messages that way);
* `AsyncAckTracker.perform` queues a settled delivery's verdict.

The asyncio consumer then awaits `AsyncAckTracker.drain`, on its event loop,
after each step that may settle something: it awaits the delivery's
coroutine and evicts the acknowledged objects (in a worker thread) only once
the broker confirmed, so an object is never evicted for a message that will
come again. "auto" mode acknowledges the item a *task* was given last when
that task asks for the next one (the sync consumer counts per thread).
Failed evictions are kept by the books; the last try, once the consumer is
closed, is made by `AsyncAckTracker.drain` (in a worker thread).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, NamedTuple

from proxyflow.api import AsyncDelivery
from proxyflow.stream._ack_types import AckMode, Outcome, Ticket, Verdict
from proxyflow.stream._acks import AckTracker
from proxyflow.stream._stats import ConsumerStats

__all__ = ["AsyncAckTracker", "DeferredDelivery"]

_log = logging.getLogger("proxyflow.stream")


class _Call(NamedTuple):
    """A broker call queued by a `DeferredDelivery`."""

    delivery: AsyncDelivery
    outcome: Outcome
    delay: float | None


class DeferredDelivery:
    """An asyncio delivery as the tracker sees it: settling it queues the coroutine.

    Args:
        inner: The asyncio delivery.
        queue: Where its calls wait for `AsyncAckTracker.drain`.
    """

    __slots__ = ("_queue", "inner")

    def __init__(self, inner: AsyncDelivery, queue: deque[Any]) -> None:
        self.inner = inner
        self._queue = queue

    @property
    def message(self) -> Any:
        """The message."""
        return self.inner.message

    @property
    def topic(self) -> str:
        """The topic the message arrived on."""
        return self.inner.topic

    @property
    def delivery_count(self) -> int:
        """How many times the broker has handed this message out."""
        return self.inner.delivery_count

    @property
    def settled(self) -> bool:
        """Whether the asyncio delivery was settled."""
        return self.inner.settled

    def ack(self) -> None:
        """Queue ``await inner.ack()``."""
        self._queue.append(_Call(self.inner, Outcome.ACK, None))

    def nack(self, delay: float | None = None) -> None:
        """Queue ``await inner.nack(delay)``."""
        self._queue.append(_Call(self.inner, Outcome.NACK, delay))

    def reject(self) -> None:
        """Queue ``await inner.reject()``."""
        self._queue.append(_Call(self.inner, Outcome.REJECT, None))


class AsyncAckTracker(AckTracker):
    """The acknowledgement books of an asyncio consumer; broker calls are awaited in `drain`.

    Args:
        mode: ``"auto"`` or ``"manual"``.
        stats: The consumer's counters.
    """

    def __init__(self, mode: AckMode, stats: ConsumerStats) -> None:
        super().__init__(mode, stats)
        self.queue: deque[Any] = deque()
        """Broker calls and verdicts waiting for `drain` (appended from worker threads too)."""
        self._last: dict[int, Ticket] = {}  # id(task) -> the ticket handed to it last

    def wrap(self, delivery: AsyncDelivery) -> DeferredDelivery:
        """The delivery the books see for ``delivery``."""
        return DeferredDelivery(delivery, self.queue)

    def perform(self, verdict: Verdict) -> None:
        """Queue a settled delivery's verdict for `drain`."""
        self.queue.append(verdict)

    def hand_out(self, obj: Any, ticket: Ticket) -> None:
        """Record that ``obj`` was given to the current task for ``ticket``."""
        super().hand_out(obj, ticket)  # its per-thread "last" is never read here
        if self.mode == "auto":
            self._last[id(asyncio.current_task())] = ticket

    def auto_release(self) -> None:
        """Acknowledge the item the current task was given last (auto mode)."""
        last = self._last.pop(id(asyncio.current_task()), None)
        if last is not None and not last.settled:
            self._settle_out(last, Outcome.ACK, None)

    def after_close(self) -> None:
        """Nothing yet: `drain` awaits what closing queued, then makes the last eviction try."""

    async def drain(self, *, quiet: bool = False) -> None:
        """Await every queued broker call, in order; evict after acknowledgements.

        Once the consumer is closed, the evictions that failed are tried a
        last time after the queue is empty (what still fails is counted in
        ``stats.evict_failures``).

        Args:
            quiet: Log failures instead of raising them (when closing: a
                settlement that did not reach the broker only means a redelivery).
        """
        queue = self.queue
        while queue:
            action = queue.popleft()
            try:
                if type(action) is Verdict:
                    await self._conclude_async(action)
                else:
                    await _call(action.delivery, action.outcome, action.delay)
            except Exception as exc:
                if not quiet:
                    raise
                _log.warning("settling a delivery failed: %s", exc)
        if self.closed and not self.evictions.finished:
            await asyncio.to_thread(self.finish_evictions)

    async def _conclude_async(self, verdict: Verdict) -> None:
        inner: AsyncDelivery = verdict.delivery.inner
        try:
            await _call(inner, verdict.outcome, verdict.delay)
        except BaseException:
            if verdict.outcome is Outcome.NACK:
                self.rollback(verdict)
            raise
        if verdict.outcome is not Outcome.NACK and verdict.evictions:
            await asyncio.to_thread(self.evict, verdict)


async def _call(delivery: AsyncDelivery, outcome: Outcome, delay: float | None) -> None:
    if outcome is Outcome.ACK:
        await delivery.ack()
    elif outcome is Outcome.NACK:
        await delivery.nack(delay)
    else:
        await delivery.reject()
