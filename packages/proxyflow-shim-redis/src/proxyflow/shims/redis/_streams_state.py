"""What a Streams subscriber knows between two calls, shared by the sync and asyncio forms.

No I/O happens here. [`GroupSettings`][proxyflow.shims.redis._streams_state.GroupSettings]
checks and holds the constructor's options; an
[`Inbox`][proxyflow.shims.redis._streams_state.Inbox] holds the entries read
but not handed out yet, the deliveries handed out and not settled, the
acknowledgements not sent yet, and when to reclaim next;
[`plan`][proxyflow.shims.redis._streams_state.plan] decides what settling a
delivery means on the server.
"""

from __future__ import annotations

import collections
import enum
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from proxyflow.api import check_timeout
from proxyflow.shims.redis._streams_scripts import Held
from proxyflow.shims.redis.stream_keys import (
    DEAD_LETTER_FIELDS,
    MESSAGE_FIELD,
    REASON_MALFORMED,
    REASON_MAX_DELIVERIES,
    REASON_REJECTED,
    StreamKeys,
    check_name,
    default_consumer_name,
)

__all__ = ["Action", "Entry", "GroupSettings", "Inbox", "Outcome", "Plan", "plan"]

DeliverPolicy = Literal["all", "new"]


class Outcome(enum.Enum):
    """What happened to a delivery."""

    PENDING = "pending"
    ACKED = "acked"
    NACKED = "nacked"
    REJECTED = "rejected"
    RELEASED = "released"
    """Given back to the group by ``close()`` of its subscriber."""


@dataclass(frozen=True)
class GroupSettings:
    """The options of a Streams subscriber, checked.

    Raises:
        ValueError: for a value out of range (the message names the option).
        TypeError: for a group, consumer or topic that is not a string.
    """

    topics: tuple[str, ...]
    group: str
    consumer: str | None
    keys: StreamKeys
    visibility_timeout: float
    max_deliveries: int | None
    dead_letter: str | None
    batch: int
    claim_interval: float | None
    deliver_policy: DeliverPolicy
    consumer_name: str = field(init=False)
    visibility_ms: int = field(init=False)
    reclaim_every: float = field(init=False)

    def __post_init__(self) -> None:
        check_name("group", self.group)
        set_ = object.__setattr__
        set_(
            self, "consumer_name", check_name("consumer", self.consumer or default_consumer_name())
        )
        if not self.visibility_timeout > 0 or math.isinf(self.visibility_timeout):
            raise ValueError(
                f"visibility_timeout must be > 0 seconds, got {self.visibility_timeout!r}"
            )
        set_(self, "visibility_ms", max(1, round(self.visibility_timeout * 1000)))
        if self.max_deliveries is not None and (
            not isinstance(self.max_deliveries, int) or self.max_deliveries < 1
        ):
            raise ValueError(
                f"max_deliveries must be an int >= 1 or None, got {self.max_deliveries!r}"
            )
        if not isinstance(self.batch, int) or self.batch < 1:
            raise ValueError(f"batch must be an int >= 1, got {self.batch!r}")
        if self.deliver_policy not in ("all", "new"):
            raise ValueError(f"deliver_policy must be 'all' or 'new', got {self.deliver_policy!r}")
        if self.dead_letter is not None:
            check_name("dead_letter", self.dead_letter)
            if self.dead_letter in self.topics:
                raise ValueError(
                    f"the dead-letter topic {self.dead_letter!r} is also read by this subscriber: "
                    "pass dead_letter=None (or another topic) to read dead letters"
                )
        every = self.claim_interval
        if every is None:
            every = min(self.visibility_timeout / 2, 5.0)
        elif not every > 0:
            raise ValueError(f"claim_interval must be > 0 seconds, got {every!r}")
        set_(self, "reclaim_every", every)

    @property
    def start_id(self) -> str:
        """Where a new group starts reading: ``"0"`` (everything kept) or ``"$"`` (new entries)."""
        return "0" if self.deliver_policy == "all" else "$"

    @property
    def dead_letter_key(self) -> str | None:
        """The stream key of the dead letters, or ``None``."""
        return None if self.dead_letter is None else self.keys.key(self.dead_letter)

    def check_delay(self, delay: float | None) -> None:
        """Raise ``ValueError`` unless ``delay`` is ``None`` or in ``[0, visibility_timeout]``."""
        check_timeout(delay, "delay")
        if delay is not None and delay > self.visibility_timeout:
            raise ValueError(
                f"nack(delay={delay}) exceeds the visibility timeout ({self.visibility_timeout}s): "
                "Redis hands an entry out again once it was idle that long; build the "
                "subscriber with a longer visibility_timeout for longer delays"
            )


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
        self.outcome = Outcome.PENDING

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
        return self.outcome is not Outcome.PENDING

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
    settings: GroupSettings, outcome: Outcome, delivery_count: int, delay: float | None
) -> Plan:
    """Decide what ``outcome`` means for an entry delivered ``delivery_count`` times."""
    give_up = Action.DROP if settings.dead_letter is None else Action.DEAD
    if outcome is Outcome.ACKED:
        return Plan(Action.ACK)
    if outcome is Outcome.REJECTED:
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

    def fetch_size(self, now: float) -> int:
        """Entries to ask for per stream: grows while the reader keeps up with full reads."""
        return self.fetch

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

    def begin(self, delivery: DeliveryState, outcome: Outcome) -> bool:
        """Move a pending delivery to ``outcome``; ``False`` if it is settled already.

        Raises:
            LookupError: if ``close()`` gave the delivery back (the caller
                raises its released error, except for ``nack``).
        """
        with self.lock:
            state = delivery.outcome
            if state is Outcome.PENDING:
                delivery.outcome = outcome
                self.unsettled.pop(id(delivery), None)
                return True
        if state is Outcome.RELEASED and outcome is not Outcome.NACKED:
            raise LookupError("released")
        return False

    def undo(self, delivery: DeliveryState) -> None:
        """Make a delivery whose settling failed pending again (unless it was released)."""
        with self.lock:
            if delivery.outcome is not Outcome.RELEASED:
                delivery.outcome = Outcome.PENDING
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

    # -- close ------------------------------------------------------------------------

    def release_all(self, late: DeliveryState | None) -> tuple[list[Entry], list[Held]]:
        """Mark everything held as given back; return it as the release script's entries.

        Entries never handed out (buffered ones, and ``late``) get their
        delivery count restored: the application never saw them.
        """
        keys = [self.settings.keys.key(topic) for topic in self.settings.topics]
        with self.lock:
            unseen = list(self.buffer)
            self.buffer.clear()
            seen = []
            for delivery in self.unsettled.values():
                if delivery.outcome is Outcome.PENDING:
                    delivery.outcome = Outcome.RELEASED
                    if delivery is late:
                        unseen.append(delivery.entry)
                    else:
                        seen.append(delivery.entry)
            self.unsettled.clear()
        held = [
            Held(keys.index(e.key) + 1, e.entry_id, e.delivery_count, e.delivery_count - 1)
            for e in unseen
        ] + [Held(keys.index(e.key) + 1, e.entry_id, e.delivery_count, -1) for e in seen]
        return unseen + seen, held
