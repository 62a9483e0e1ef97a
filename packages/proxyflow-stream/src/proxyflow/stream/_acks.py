"""Acknowledgements: which broker delivery each item belongs to, and settling it.

With an acknowledging subscriber (``proxyflow.api.AckingSubscriber``) every
message the consumer takes is a delivery that must be settled once. One
delivery may carry several objects (a batch): it is settled when all of its
items are, as a whole:

* every item acknowledged (or dropped by the consumer's filter): ``ack()``,
  then the objects whose events asked for eviction are evicted;
* any item given back (``nack``): ``nack(delay)`` with the longest delay
  asked, and nothing is evicted: the whole message comes again
  (at-least-once: its acknowledged items are handed out again too);
* otherwise, any item rejected: ``reject()``; the acknowledged items'
  objects are evicted, the rejected ones stay in their store so that the
  dead-lettered event still points at something.

An eviction that fails (the store is down) is kept and tried again (see
[`_evictions`][proxyflow.stream._evictions]).

Items are found by identity: the object (proxy or inline object) that the
consumer handed out. The same object handed out twice (a small ``int`` sent
inline twice, say) is settled in the order it was handed out.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from proxyflow.api import Delivery
from proxyflow.serialize import SerializationError
from proxyflow.store import ContentDigestError, Store
from proxyflow.stream._ack_types import AckMode, Delivered, Mark, Outcome, Ticket, Verdict
from proxyflow.stream._decode import Batch, InlineItem, Item, StoredItem
from proxyflow.stream._evictions import Evictions
from proxyflow.stream._stats import ConsumerStats
from proxyflow.stream.exceptions import (
    ConsumerClosedError,
    ItemNotHeldError,
    StreamObjectMissingError,
)

__all__ = ["AckTracker"]

_log = logging.getLogger("proxyflow.stream")


class AckTracker:
    """Maps items to their deliveries and settles deliveries when all their items are.

    Thread-safe: items are taken under the consumer's lock, settled from any
    thread. Broker and store calls are made outside the tracker's own lock.

    Args:
        mode: ``"auto"`` or ``"manual"``.
        stats: The consumer's counters.
    """

    def __init__(self, mode: AckMode, stats: ConsumerStats) -> None:
        self.mode = mode
        self._stats = stats
        self._lock = threading.Lock()
        self._waiting: dict[int, tuple[Item, Delivered]] = {}  # decoded, not taken yet
        self._open: dict[int, Delivered] = {}  # deliveries not settled yet
        self._out: dict[int, list[tuple[Any, Ticket]]] = {}  # handed out, not settled
        self._high: dict[tuple[bytes, str], int] = {}  # highest sequence seen per producer
        self._owed: set[Mark] = set()  # given back, not delivered again yet
        self._local = threading.local()  # the last item handed to this thread (auto mode)
        self.evictions = Evictions(stats)
        """The evictions after acknowledgements, and those to try again."""
        self.closed = False
        self.progress = 0
        """Items settled so far (the end of the stream waits while it grows)."""

    # -- taking messages (under the consumer's lock) ----------------------------------------------

    def received(self, delivery: Delivery, event: object) -> None:
        """Record the items of a decoded delivery; an end-of-stream event is acknowledged now."""
        kind = type(event)
        if kind is StoredItem or kind is InlineItem:
            items: list[Item] = [event]  # type: ignore[list-item]
        elif kind is Batch:
            items = event.items  # type: ignore[attr-defined]
        else:
            self._stats.acked += 1
            delivery.ack()
            return
        if self._is_redelivery(delivery, items):
            self._stats.redelivered += 1
        marks = [(item.producer_id, item.topic, item.seq) for item in items]
        delivered = Delivered(delivery, marks)
        with self._lock:
            self._owed.difference_update(marks)
            closed = self.closed
            if not closed:
                self._open[id(delivered)] = delivered
                for item in items:
                    self._waiting[id(item)] = (item, delivered)
        if closed:  # read while closing: give it back at once
            delivered.done = True
            self._apply(delivered)

    def _is_redelivery(self, delivery: Delivery, items: list[Item]) -> bool:
        """Whether the broker says so, or an item's sequence number was seen already."""
        again = delivery.delivery_count > 1
        high = self._high
        for item in items:
            mark = (item.producer_id, item.topic)
            seen = high.get(mark, -1)
            if item.seq <= seen:
                again = True
            else:
                high[mark] = item.seq
        return again

    def bad(self, delivery: Delivery) -> None:
        """Reject a message that is not a valid event: redelivering it cannot help."""
        self._stats.rejected += 1
        delivery.reject()

    def take(self, item: Item, store: Store | None) -> Ticket:
        """Start tracking a decoded item that is about to be handed out (or dropped)."""
        with self._lock:
            found = self._waiting.pop(id(item), None)
        if found is None:
            raise ConsumerClosedError("the consumer is closed")
        delivered = found[1]
        if type(item) is StoredItem:
            return Ticket(delivered, store, item.key, item.evict)
        return Ticket(delivered, None, None, False)

    def failed(self, ticket: Ticket, error: BaseException) -> None:
        """Settle an item whose object could not be read.

        A missing, unreadable or tampered object (bytes that do not match a
        signed digest) is rejected (its redelivery would fail the same way);
        any other failure (the store is unreachable, a timeout) gives the
        delivery back, to be delivered again.
        """
        gone = isinstance(error, (StreamObjectMissingError, SerializationError, ContentDigestError))
        self.settle_ticket(ticket, Outcome.REJECT if gone else Outcome.NACK)

    def discard(self, item: Item, outcome: Outcome, store: Store | None = None) -> None:
        """Settle an item the caller will never see (dropped by the filter, or unusable)."""
        self.settle_ticket(self.take(item, store), outcome)

    # -- handing out and settling ------------------------------------------------------------------

    def outstanding(self) -> bool:
        """Whether a delivery read is not settled yet, or was given back and has not come again."""
        with self._lock:
            return bool(self._open or self._owed)

    def hand_out(self, obj: Any, ticket: Ticket) -> None:
        """Record that ``obj`` was given to the caller for ``ticket``."""
        with self._lock:
            self._out.setdefault(id(obj), []).append((obj, ticket))
        if self.mode == "auto":
            self._local.last = ticket

    def auto_release(self) -> None:
        """Acknowledge the item this thread was given last (auto mode, before the next one)."""
        last: Ticket | None = getattr(self._local, "last", None)
        if last is not None:
            self._local.last = None
            if not last.settled:
                self._settle_out(last, Outcome.ACK, None)

    def ticket_of(self, obj: Any) -> Ticket:
        """Return the oldest unsettled ticket of a handed-out object.

        Raises:
            ItemNotHeldError: If ``obj`` was not handed out, or was settled already.
        """
        with self._lock:
            held = self._out.get(id(obj))
            if held:
                return held[0][1]
        raise ItemNotHeldError(obj)

    def settle(self, obj: Any, outcome: Outcome, delay: float | None = None) -> None:
        """Settle a handed-out object.

        Raises:
            ItemNotHeldError: If ``obj`` was not handed out, or was settled already.
        """
        with self._lock:
            held = self._out.get(id(obj))
            if not held:
                raise ItemNotHeldError(obj)
            ticket = held.pop(0)[1]
            if not held:
                del self._out[id(obj)]
        self.settle_ticket(ticket, outcome, delay)

    def _settle_out(self, ticket: Ticket, outcome: Outcome, delay: float | None) -> None:
        """Settle a handed-out ticket found by reference (auto mode, close)."""
        with self._lock:
            for key, held in self._out.items():
                for i, (_, t) in enumerate(held):
                    if t is ticket:
                        del held[i]
                        if not held:
                            del self._out[key]
                        break
                else:
                    continue
                break
        self.settle_ticket(ticket, outcome, delay)

    def settle_ticket(self, ticket: Ticket, outcome: Outcome, delay: float | None = None) -> None:
        """Settle one item; settle its delivery when it was the last one open."""
        verdict = self.record(ticket, outcome, delay)
        if verdict is not None:
            self.perform(verdict)

    def record(
        self, ticket: Ticket, outcome: Outcome, delay: float | None = None
    ) -> Verdict | None:
        """Settle one item in the books; return its delivery's verdict when it was the last open.

        The half of `settle_ticket` that does no I/O: a caller that talks to
        the broker another way (awaiting an asyncio delivery) calls this,
        then settles ``verdict.delivery`` itself and calls `evict` after an
        acknowledgement or a rejection (`rollback` if a ``nack`` failed).
        """
        delivered = ticket.delivered
        with self._lock:
            if ticket.settled:
                return None
            ticket.settled = True
            self.progress += 1
            if delivered.done:
                return None  # given back already (the consumer is closing)
            delivered.open -= 1
            if outcome is Outcome.NACK:
                delivered.nacked = True
                if delay is not None:
                    delivered.delay = max(delay, delivered.delay or 0.0)
            elif outcome is Outcome.REJECT:
                delivered.rejected = True
            elif ticket.evict and ticket.store is not None:
                delivered.evictions.append((ticket.store, ticket.key))
            if delivered.open > 0:
                return None
            delivered.done = True
            self._open.pop(id(delivered), None)
        return self._conclude(delivered)

    def _conclude(self, delivered: Delivered) -> Verdict:
        """Decide how a delivery whose items are all settled ends; count it."""
        stats = self._stats
        if delivered.nacked or (self.closed and delivered.open):
            stats.nacked += 1
            if not self.closed:
                with self._lock:
                    self._owed.update(delivered.marks)
            return Verdict(delivered.delivery, Outcome.NACK, delivered.delay, [], delivered.marks)
        if delivered.rejected:
            stats.rejected += 1
            outcome = Outcome.REJECT
        else:
            stats.acked += 1
            outcome = Outcome.ACK
        return Verdict(delivered.delivery, outcome, None, delivered.evictions, delivered.marks)

    def perform(self, verdict: Verdict) -> None:
        """Tell the broker how a delivery ended, then evict what it acknowledged."""
        delivery = verdict.delivery
        if verdict.outcome is Outcome.NACK:
            try:
                delivery.nack(verdict.delay)
            except BaseException:
                self.rollback(verdict)
                raise
            return
        if verdict.outcome is Outcome.REJECT:
            delivery.reject()
        else:
            delivery.ack()
        self.evict(verdict)

    def rollback(self, verdict: Verdict) -> None:
        """Forget that a delivery whose ``nack`` failed is owed back (the broker will decide)."""
        with self._lock:
            self._owed.difference_update(verdict.marks)

    def evict(self, verdict: Verdict) -> None:
        """Evict the objects a settled delivery acknowledged; failures are kept, not raised."""
        self.evictions.evict(verdict.evictions)

    def finish_evictions(self) -> None:
        """Try the failed evictions a last time (closing); what still fails is left, counted."""
        self.evictions.finish()

    def _apply(self, delivered: Delivered) -> None:
        """Conclude a delivery and tell the broker."""
        self.perform(self._conclude(delivered))

    # -- closing ----------------------------------------------------------------------------------

    def close(self, held: Outcome) -> None:
        """Settle handed-out items with ``held``, then give back every other open delivery.

        Errors from the broker are logged, not raised: an acknowledgement that
        did not reach it only means a redelivery.
        """
        with self._lock:
            self.closed = True
            out = [ticket for tickets in self._out.values() for _, ticket in tickets]
            self._out.clear()
            self._waiting.clear()
            self._owed.clear()
        for ticket in out:
            try:
                self.settle_ticket(ticket, held)
            except Exception as exc:
                _log.warning("settling a delivery while closing failed: %s", exc)
        with self._lock:
            rest = list(self._open.values())
            self._open.clear()
            for delivered in rest:
                delivered.done = True
        for delivered in rest:
            try:
                self._apply(delivered)
            except Exception as exc:
                _log.warning("giving back a delivery while closing failed: %s", exc)
        self.after_close()

    def after_close(self) -> None:
        """Make the last try of the failed evictions (the asyncio tracker's `drain` does)."""
        self.finish_evictions()
