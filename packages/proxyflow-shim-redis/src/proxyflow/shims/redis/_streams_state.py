"""What a Streams subscriber knows between two calls, shared by the sync and asyncio forms.

No I/O happens here. An [`Inbox`][proxyflow.shims.redis._streams_state.Inbox] holds the entries read
but not handed out yet, the deliveries handed out and not settled, the
acknowledgements not sent yet, and when to reclaim next;
[`plan`][proxyflow.shims.redis._streams_state.plan] decides what settling a
delivery means on the server.
"""

from __future__ import annotations

import collections
import enum
import threading
import time
from collections.abc import Sequence
from typing import NamedTuple

from proxyflow.api import DeliveryOutcome
from proxyflow.shims.redis._streams_scripts import Held
from proxyflow.shims.redis._streams_settings import GroupSettings
from proxyflow.shims.redis.exceptions import DeliveryReleasedError
from proxyflow.shims.redis.stream_keys import (
    DEAD_LETTER_FIELDS,
    MESSAGE_FIELD,
    REASON_MALFORMED,
    REASON_MAX_DELIVERIES,
    REASON_REJECTED,
)

__all__ = ["Action", "DeliveryState", "Entry", "Inbox", "Plan", "plan", "triage"]


class Entry(NamedTuple):
    """One stream entry this subscriber holds."""

    topic: str
    key: str
    entry_id: bytes
    fields: dict[bytes, bytes]
    delivery_count: int

    @property
    def message(self) -> bytes | None:
        """The message, or ``None`` if the entry has no ``message`` field (malformed)."""
        return self.fields.get(MESSAGE_FIELD)


class DeliveryState:
    """What the sync and async deliveries share: the entry and how it was settled."""

    __slots__ = ("_entry", "outcome")

    def __init__(self, entry: Entry) -> None:
        self._entry = entry
        self.outcome = DeliveryOutcome.PENDING

    @property
    def entry(self) -> Entry:
        """The stream entry."""
        return self._entry

    @property
    def message(self) -> bytes:
        """The message."""
        return self._entry.fields[MESSAGE_FIELD]

    @property
    def topic(self) -> str:
        """The topic the message arrived on."""
        return self._entry.topic

    @property
    def delivery_count(self) -> int:
        """How many times the group has handed this message out: 1 the first time."""
        return self._entry.delivery_count

    @property
    def entry_id(self) -> str:
        """The entry's id in its stream (``"<ms>-<seq>"``), stable across redeliveries."""
        return self._entry.entry_id.decode()

    @property
    def fields(self) -> dict[str, bytes]:
        """Every field of the entry (dead letters carry ``proxyflow-*`` ones), names decoded."""
        return {name.decode(errors="replace"): value for name, value in self._entry.fields.items()}

    @property
    def settled(self) -> bool:
        """Whether ``ack``, ``nack`` or ``reject`` was called (or ``close`` gave it back)."""
        return self.outcome.settled

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(topic={self.topic!r}, id={self.entry_id!r}, "
            f"delivery_count={self.delivery_count}, {self.outcome.value})"
        )


class Action(enum.Enum):
    """What settling means on the server."""

    ACK = "ack"
    NACK = "nack"
    DEAD = "dead"
    DROP = "drop"


class Plan(NamedTuple):
    """How to settle one entry."""

    action: Action
    idle_ms: int = 0
    """For ``NACK``: the idle time to set, so the entry is reclaimable after the delay."""
    reason: str = ""
    """For ``DEAD``/``DROP``: why the group gives up on it."""


def plan(
    settings: GroupSettings, outcome: DeliveryOutcome, delivery_count: int, delay: float | None
) -> Plan:
    """Decide what ``outcome`` means for an entry delivered ``delivery_count`` times."""
    give_up = Action.DROP if settings.dead_letter is None else Action.DEAD
    if outcome is DeliveryOutcome.ACKED:
        return Plan(Action.ACK)
    if outcome is DeliveryOutcome.REJECTED:
        return Plan(give_up, reason=REASON_REJECTED)
    limit = settings.max_deliveries
    if limit is not None and delivery_count >= limit:
        return Plan(give_up, reason=REASON_MAX_DELIVERIES)
    wait_ms = round((delay or 0.0) * 1000)
    return Plan(Action.NACK, idle_ms=max(0, settings.visibility_ms - wait_ms))


def triage(settings: GroupSettings, entry: Entry) -> Plan | None:
    """Return how to give up on a freshly read entry, or ``None`` to hand it out."""
    give_up = Action.DROP if settings.dead_letter is None else Action.DEAD
    if entry.message is None:
        return Plan(give_up, reason=REASON_MALFORMED)
    limit = settings.max_deliveries
    if limit is not None and entry.delivery_count > limit:
        return Plan(give_up, reason=REASON_MAX_DELIVERIES)
    return None


def dead_letter_fields(
    settings: GroupSettings, entry: Entry, reason: str, deliveries: int
) -> list[bytes]:
    """Return the fields and values of the dead-letter copy of ``entry``."""
    flat: list[bytes] = []
    for name, value in entry.fields.items():
        if name not in DEAD_LETTER_FIELDS:
            flat += [name, value]
    values = (
        entry.topic.encode(),
        entry.entry_id,
        settings.group.encode(),
        settings.consumer_name.encode(),
        str(deliveries).encode(),
        reason.encode(),
    )
    for name, value in zip(DEAD_LETTER_FIELDS, values, strict=True):
        flat += [name, value]
    return flat


class Inbox:
    """The entries and deliveries one subscriber holds; thread-safe.

    Args:
        settings: The subscriber's settings.
        defer_acks: Queue acknowledgements to send with the next read.
    """

    def __init__(self, settings: GroupSettings, *, defer_acks: bool) -> None:
        self.settings = settings
        self.defer_acks = defer_acks
        self.lock = threading.Lock()
        self.buffer: collections.deque[Entry] = collections.deque()
        self.unsettled: dict[int, DeliveryState] = {}
        self.acks: dict[str, list[bytes]] = {}
        self.cursors: dict[str, bytes] = {}
        self.next_reclaim = 0.0  # at once: entries of dead consumers wait for the first read
        self.fetch = 1
        self._last_fetch = 0.0

    # -- reading ----------------------------------------------------------------------

    def reclaim_due(self, now: float) -> bool:
        """Whether a reclaim pass should run now."""
        return now >= self.next_reclaim

    def reclaim_done(self, now: float, complete: bool) -> None:
        """Record a reclaim pass; ``complete`` when every stream's scan reached its end."""
        self.next_reclaim = now + (0.0 if not complete else self.settings.reclaim_every)

    def reclaim_soon(self, delay: float) -> None:
        """Make the next reclaim run ``delay`` seconds from now, at the latest."""
        self.next_reclaim = min(self.next_reclaim, time.monotonic() + delay)

    def fetched(self, now: float, count: int) -> None:
        """Adapt the fetch size after a read that returned ``count`` entries."""
        keeping_up = now - self._last_fetch < self.settings.visibility_timeout / 8
        if count >= self.fetch and keeping_up:
            self.fetch = min(self.settings.batch, self.fetch * 2)
        elif count < self.fetch:
            self.fetch = max(1, self.fetch // 2)
        self._last_fetch = now

    def add(self, entries: Sequence[Entry]) -> None:
        """Buffer entries read or reclaimed; a reclaimed copy replaces a buffered one."""
        with self.lock:
            if self.buffer and entries:
                fresh = {(e.key, e.entry_id) for e in entries}
                self.buffer = collections.deque(
                    e for e in self.buffer if (e.key, e.entry_id) not in fresh
                )
            self.buffer.extend(entries)

    def take(self) -> Entry | None:
        """Return the next buffered entry, or ``None``."""
        with self.lock:
            return self.buffer.popleft() if self.buffer else None

    def hand_out(self, delivery: DeliveryState) -> None:
        """Count ``delivery`` as handed out and unsettled."""
        with self.lock:
            self.unsettled[id(delivery)] = delivery

    # -- settling ---------------------------------------------------------------------

    def begin(self, delivery: DeliveryState, outcome: DeliveryOutcome, describe: str) -> bool:
        """Move a pending delivery to ``outcome``; ``False`` if it is settled already.

        Raises:
            DeliveryReleasedError: if ``close()`` of the subscriber (named by
                ``describe``) gave the delivery back, unless ``outcome`` is a nack.
        """
        with self.lock:
            state = delivery.outcome
            if state is DeliveryOutcome.PENDING:
                delivery.outcome = outcome
                self.unsettled.pop(id(delivery), None)
                return True
        if state.refuses(outcome):
            raise DeliveryReleasedError(
                f"the {describe} was closed and gave this message back to its group; "
                "it will be delivered again"
            )
        return False

    def undo(self, delivery: DeliveryState) -> None:
        """Make a delivery whose settling failed pending again (unless it was released)."""
        with self.lock:
            if delivery.outcome is not DeliveryOutcome.RELEASED:
                delivery.outcome = DeliveryOutcome.PENDING
                self.unsettled[id(delivery)] = delivery

    def defer_ack(self, entry: Entry) -> None:
        """Queue an acknowledgement for the next read."""
        with self.lock:
            self.acks.setdefault(entry.key, []).append(entry.entry_id)

    def take_acks(self) -> dict[str, list[bytes]]:
        """Return and forget the queued acknowledgements."""
        with self.lock:
            acks, self.acks = self.acks, {}
        return acks

    def requeue_acks(self, acks: dict[str, list[bytes]]) -> None:
        """Queue acknowledgements again whose sending failed (``XACK`` is idempotent)."""
        with self.lock:
            for key, ids in acks.items():
                self.acks.setdefault(key, []).extend(ids)

    # -- close ------------------------------------------------------------------------

    def release_all(self, late: Sequence[DeliveryState]) -> tuple[list[Entry], list[Held]]:
        """Mark everything held as given back; return it as the release script's entries.

        Entries never handed out (buffered ones, and the ``late`` deliveries
        read while the subscriber closed) get their delivery count restored:
        the application never saw them.
        """
        keys = [self.settings.keys.key(topic) for topic in self.settings.topics]
        with self.lock:
            unseen = list(self.buffer)
            self.buffer.clear()
            seen = []
            for delivery in self.unsettled.values():
                if delivery.outcome is DeliveryOutcome.PENDING:
                    delivery.outcome = DeliveryOutcome.RELEASED
                    if any(delivery is d for d in late):
                        unseen.append(delivery.entry)
                    else:
                        seen.append(delivery.entry)
            self.unsettled.clear()
        held = [
            Held(keys.index(e.key) + 1, e.entry_id, e.delivery_count, e.delivery_count - 1)
            for e in unseen
        ] + [Held(keys.index(e.key) + 1, e.entry_id, e.delivery_count, -1) for e in seen]
        return unseen + seen, held
