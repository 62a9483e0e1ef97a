"""Gap and duplicate detection: each producer numbers its events per topic, 0, 1, 2...

A consumer that sees every event of a topic (a fan-out broker: pub/sub,
ZeroMQ, a NATS subject) expects, for each ``(producer_id, topic)``, the
sequence numbers to follow one another up to the producer's end-of-stream
event, whose own number is the count of object events before it. A jump
means events were lost; a number seen already is a duplicate (a redelivery)
and is dropped. Consumers of a work-sharing broker see only a share of the
numbers by design and do not track them (see `EventReader`).
"""

from __future__ import annotations

import logging
from typing import Literal

from proxyflow.stream._stats import ConsumerStats
from proxyflow.stream.exceptions import EventsLostError

__all__ = ["DUPLICATE", "GapPolicy", "SequenceTracker"]

GapPolicy = Literal["count", "warn", "raise"]
"""What a consumer does when events are lost: count them only, also log a warning, or raise."""

DUPLICATE = -1
"""What `SequenceTracker.observe` returns for an event seen already."""

_logger = logging.getLogger("proxyflow.stream")


class SequenceTracker:
    """Follows the sequence numbers of every producer on every topic.

    Not thread-safe: the consumer calls it under its lock.

    Args:
        stats: The counters to update (``lost``, ``duplicates``).
        on_gap: ``"count"``, ``"warn"`` (log on the ``proxyflow.stream``
            logger) or ``"raise"`` (`raise_pending` raises `EventsLostError`).

    Raises:
        ValueError: If ``on_gap`` is unknown.
    """

    __slots__ = ("_on_gap", "_stats", "next", "pending")

    def __init__(self, stats: ConsumerStats, on_gap: GapPolicy) -> None:
        if on_gap not in ("count", "warn", "raise"):
            raise ValueError(f"on_gap must be 'count', 'warn' or 'raise', got {on_gap!r}")
        self._stats = stats
        self._on_gap = on_gap
        self.next: dict[tuple[bytes, str], int] = {}
        """``(producer_id, topic)`` -> the sequence number expected next."""
        self.pending: EventsLostError | None = None
        """A gap to raise once the event that revealed it is queued (``on_gap="raise"``)."""

    def observe(self, producer_id: bytes, topic: str, seq: int) -> int:
        """Record an event; return 0, the number of events lost before it, or `DUPLICATE`."""
        key = (producer_id, topic)
        expected = self.next.get(key, 0)
        if seq == expected:
            self.next[key] = seq + 1
            return 0
        if seq < expected:
            self._stats.duplicates += 1
            return DUPLICATE
        self.next[key] = seq + 1
        self._gap(producer_id, topic, expected, seq)
        return seq - expected

    def _gap(self, producer_id: bytes, topic: str, expected: int, received: int) -> None:
        self._stats.lost += received - expected
        if self._on_gap == "count":
            return
        error = EventsLostError(producer_id, topic, expected, received)
        if self._on_gap == "warn":
            _logger.warning("%s", error)
        elif self.pending is None:
            self.pending = error

    def raise_pending(self) -> None:
        """Raise the gap recorded with ``on_gap="raise"``, once.

        Raises:
            EventsLostError: If a gap was recorded since the last call.
        """
        error = self.pending
        if error is not None:
            self.pending = None
            raise error
