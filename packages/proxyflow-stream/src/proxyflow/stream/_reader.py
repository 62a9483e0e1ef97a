"""Reading events: messages from the subscriber become pending items; ends and gaps are counted."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from proxyflow.api import ProxyflowError, Roster
from proxyflow.serialize import SerializationError
from proxyflow.store import StoreError
from proxyflow.stream._decode import Batch, DecodedEvent, InlineItem, Item, StoredItem, decode
from proxyflow.stream._decode import EndOfStream as EndOfStreamEvent
from proxyflow.stream._gaps import DUPLICATE, GapPolicy, SequenceTracker
from proxyflow.stream._stats import ConsumerStats
from proxyflow.stream.exceptions import (
    ConnectorNotAllowedError,
    ConsumerTimeoutError,
    EventDecodeError,
    EventRejectedError,
)
from proxyflow.stream.protocols import Subscriber

if TYPE_CHECKING:
    from proxyflow.stream._acks import AckTracker

__all__ = ["CONTENT_ERRORS", "ROSTER_POLL", "EndOfStream", "EventReader"]

CONTENT_ERRORS: tuple[type[Exception], ...] = (
    EventDecodeError,
    ConnectorNotAllowedError,
    StoreError,
    SerializationError,
    TypeError,
    ValueError,
    LookupError,
)
"""Errors an event's content can cause while its store is found or its object rebuilt.

Skip mode skips (and counts) them: a bad store config, a connector kind that
is not allowed or not installed, an unknown serializer, a key or option of
the wrong type. Backend failures (a store that cannot be reached) are not
among them: they are raised in every mode.
"""

ROSTER_POLL = 0.05
"""Seconds a work-sharing consumer waits for a message before it reads the roster again."""


class EndOfStream:
    """Counts end-of-stream events per topic and producer, and says when the stream ended.

    The stream ends when every topic of ``topics`` has ended; with no
    topics, when the first topic that ends does. A topic ends when:

    * (fan-out subscribers) it received end-of-stream events from its
      expected number of distinct producer ids;
    * (work-sharing subscribers, given ``roster``) the broker's roster says
      every producer that joined the topic has left, at least the expected
      number joined, and no message is left to read: `EventReader` checks
      that when the subscriber is idle. A topic whose roster is empty (its
      producers do not use the roster) falls back to counting end-of-stream
      events.

    Args:
        topics: The topics whose end ends the stream.
        producers_per_topic: Producers ending each topic: an ``int`` for all,
            or a mapping topic -> count (missing topics count 1).
        roster: The subscriber's ``roster(topic)`` method, on a work-sharing broker.

    Raises:
        ValueError: If a count is below 1.
    """

    __slots__ = ("_counts", "_default", "_ended", "_topics", "done", "roster", "seen")

    def __init__(
        self,
        topics: Sequence[str],
        producers_per_topic: int | Mapping[str, int],
        roster: Callable[[str], Roster] | None = None,
    ) -> None:
        if isinstance(producers_per_topic, int):
            counts: dict[str, int] = {}
            default = producers_per_topic
        else:
            counts = dict(producers_per_topic)
            default = 1
        if default < 1 or any(n < 1 for n in counts.values()):
            raise ValueError("producers_per_topic counts must be >= 1")
        self._topics = tuple(topics)
        self._counts = counts
        self._default = default
        self._ended: dict[str, set[bytes]] = {}
        self.roster = roster
        """The roster reader of a work-sharing subscriber, or ``None``."""
        self.seen: set[str] = set()
        """Topics seen in events (work-sharing consumers without topics check these)."""
        self.done = False
        """Whether the stream has ended (its last events may still be pending)."""

    def _expected(self, topic: str) -> int:
        return self._counts.get(topic, self._default)

    def record(self, topic: str, producer_id: bytes) -> None:
        """Count one end-of-stream event."""
        producers = self._ended.setdefault(topic, set())
        producers.add(producer_id)
        roster = self.roster
        if roster is None:
            if self._topics:
                self.done = all(self._counted(t) for t in self._topics)
            else:
                self.done = self._counted(topic)
            return
        # Work-sharing: only topics whose producers keep no roster end by counting
        # (at once, as on fan-out); the others end by `complete`, once idle.
        if self._topics:
            self.done = all(self._counted(t) and not roster(t).joined for t in self._topics)
        else:
            self.done = self._counted(topic) and not roster(topic).joined

    def _counted(self, topic: str) -> bool:
        return len(self._ended.get(topic, ())) >= self._expected(topic)

    def _topic_complete(self, topic: str, roster: Callable[[str], Roster]) -> bool:
        listed = roster(topic)
        if not listed.joined:
            return self._counted(topic)
        return listed.complete and len(listed.joined) >= self._expected(topic)

    def deciding_topics(self) -> tuple[str, ...]:
        """The topics whose end decides the stream's: those given, else those seen in events."""
        return self._topics or tuple(sorted(self.seen))

    def complete(self) -> bool:
        """Whether every topic's roster is complete (work-sharing; read before the last probe)."""
        roster = self.roster
        if roster is None:
            return self.done
        if self._topics:
            return all(self._topic_complete(t, roster) for t in self._topics)
        return any(self._topic_complete(t, roster) for t in sorted(self.seen))

    def describe_open(self) -> str:
        """Name the topics still open and what was seen of their ends, for error messages."""
        topics = self._topics or tuple(sorted(self.seen | set(self._ended)))
        if not topics:
            return "no topic is known yet (no event arrived and the subscriber names none)"
        parts = []
        for topic in topics:
            seen = len(self._ended.get(topic, ()))
            text = f"{topic!r} ({seen} of {self._expected(topic)} end-of-stream events seen"
            if self.roster is not None:
                try:
                    listed = self.roster(topic)
                    text += f"; roster: {len(listed.joined)} joined, {len(listed.left)} left"
                except Exception as exc:  # the message must not hide the timeout
                    text += f"; roster unreadable: {type(exc).__name__}"
            parts.append(text + ")")
        return "topics still open: " + ", ".join(parts)


class EventReader:
    """Takes messages from a subscriber, decodes them and queues their items in ``pending``.

    On a fan-out subscriber it also follows every producer's sequence
    numbers (`SequenceTracker`): gaps count in ``stats.lost``, duplicates in
    ``stats.duplicates`` and are dropped. A work-sharing subscriber (one with
    a ``roster(topic)`` method, ``proxyflow.api.WorkSharingSubscriber``)
    hands each consumer a share of the events, so there sequence numbers are
    not tracked, and the end of a topic is read from the roster. Nor are they
    with acknowledgements: the broker redelivers what was not settled, and
    the acknowledgement tracker counts redeliveries.

    Not thread-safe: the consumer calls it under its lock.

    Args:
        subscriber: The broker subscriber.
        timeout: Seconds to wait for a message (``None``: forever).
        ending: The end-of-stream accounting.
        skip_bad: Whether undecodable messages are counted and skipped
            rather than raised.
        stats: The consumer's counters.
        on_gap: What to do about lost events (see `SequenceTracker`).
        acks: With an acknowledging subscriber, the tracker that messages
            are read for as deliveries (``next_delivery``).
        decoder: Turns a message into an event (a signed consumer's checks
            signatures first).
    """

    __slots__ = (
        "_acks",
        "_decode",
        "_skip_bad",
        "_stats",
        "_subscriber",
        "_timeout",
        "ending",
        "eof",
        "pending",
        "taken",
        "tracker",
    )

    def __init__(
        self,
        subscriber: Subscriber,
        timeout: float | None,
        ending: EndOfStream,
        *,
        skip_bad: bool,
        stats: ConsumerStats,
        on_gap: GapPolicy = "warn",
        acks: AckTracker | None = None,
        decoder: Callable[[bytes | bytearray | memoryview], DecodedEvent] = decode,
    ) -> None:
        self._acks = acks
        self._decode = decoder
        self._subscriber = subscriber
        self._timeout = timeout
        self.ending = ending
        """The end-of-stream accounting (``ending.done``: the stream ended)."""
        self._skip_bad = skip_bad
        self._stats = stats
        tracker = SequenceTracker(stats, on_gap)
        tracked = ending.roster is None and acks is None
        self.tracker: SequenceTracker | None = tracker if tracked else None
        """The sequence tracker, ``None`` on a work-sharing or acknowledging subscriber."""
        self.pending: deque[Item] = deque()
        """Decoded items not handed out yet, in stream order."""
        self.taken = 0
        """Messages taken from the subscriber so far."""
        self.eof = False
        """Whether the subscriber reported that it was closed."""

    def receive(self, *, probe: bool = False, wait: float | None = None) -> bool:
        """Take one message and queue its items (or count its end of stream).

        With ``probe``, only take a message that already arrived and return
        ``False`` when there is none; with ``wait``, wait that many seconds
        instead of the timeout and return ``False`` when nothing came. A
        closed subscriber ends the stream.

        Raises:
            ConsumerTimeoutError: If no message arrived within the timeout.
            EventDecodeError: On a bad message, unless bad messages are skipped.
            EventsLostError: With ``on_gap="raise"``, when events were lost
                (the message that revealed it is queued first).
        """
        if self.ending.roster is not None and not probe and wait is None:
            return self._receive_sharing()
        waited = 0 if probe else self._timeout if wait is None else wait
        try:
            message, delivery = self._take(waited)
        except EOFError:
            self._closed()
            return True
        except TimeoutError as exc:
            if probe or wait is not None:
                return False
            raise self._timed_out(exc) from exc
        self.accept(message, delivery)
        return True

    def _take(self, wait: float | None) -> tuple[Any, Any]:
        """Wait up to ``wait`` seconds for a message; return it and its delivery (or ``None``)."""
        if self._acks is None:
            return self._subscriber.next_message(wait), None
        delivery = self._subscriber.next_delivery(wait)  # type: ignore[attr-defined]
        return delivery.message, delivery

    def _closed(self) -> None:
        self.ending.done = True
        self.eof = True

    def _timed_out(self, exc: BaseException | None = None) -> ConsumerTimeoutError:
        error = ConsumerTimeoutError(
            f"no message arrived within {self._timeout} seconds; {self.ending.describe_open()}"
        )
        if exc is not None:
            error.__cause__ = exc
        return error

    def _receive_sharing(self) -> bool:
        """Receive on a work-sharing subscriber: end a topic by its roster once idle."""
        timeout = self._timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = ROSTER_POLL
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            try:
                message, delivery = self._take(wait)
            except EOFError:
                self._closed()
                return True
            except TimeoutError as exc:
                try:
                    complete = self.ending.complete()
                except EOFError:  # closed meanwhile
                    complete = True
                if not complete:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise self._timed_out(exc) from exc
                    continue
                # The roster was read before this last look: every message of
                # its producers was in the broker already.
                try:
                    message, delivery = self._take(0)
                except EOFError:
                    self._closed()
                    return True
                except TimeoutError:
                    self.ending.done = True
                    return True
            self.accept(message, delivery)
            return True

    def accept(self, message: bytes | bytearray | memoryview, delivery: Any = None) -> None:
        """Decode one message taken from the subscriber and queue its items (or count its end).

        The part of `receive` after the wait. With acknowledgements,
        ``delivery`` is the delivery that carried the message: a bad message
        is rejected, the items of a good one are tracked. Sequence numbers are
        followed here (see the class documentation).

        Raises:
            EventDecodeError: On a bad message, unless bad messages are skipped.
            EventsLostError: With ``on_gap="raise"``, when events were lost.
        """
        acks = self._acks
        self.taken += 1
        try:
            event = self._decode(message)
        except EventDecodeError as exc:
            if acks is not None and delivery is not None:
                acks.bad(delivery)
            self.skip_bad(exc)
            return
        self._stats.events += 1
        tracker = self.tracker
        kind = type(event)
        if tracker is None:
            self.ending.seen.add(event.topic)
            if kind is StoredItem or kind is InlineItem:
                self.pending.append(event)  # type: ignore[arg-type]
            elif kind is Batch:
                self.pending.extend(event.items)  # type: ignore[union-attr]
            else:
                self.ending.record(event.topic, event.producer_id)
            if acks is not None and delivery is not None:
                acks.received(delivery, event)
            return
        if kind is StoredItem or kind is InlineItem:
            # The common case inline (no call): the number expected next.
            key = (event.producer_id, event.topic)
            seq: int = event.seq  # type: ignore[union-attr]
            expected = tracker.next.get(key, 0)
            if seq == expected:
                tracker.next[key] = seq + 1
                self.pending.append(event)  # type: ignore[arg-type]
                return
            if tracker.observe(event.producer_id, event.topic, seq) != DUPLICATE:
                self.pending.append(event)  # type: ignore[arg-type]
        elif kind is Batch:
            observe = tracker.observe
            self.pending.extend(
                item
                for item in event.items  # type: ignore[union-attr]
                if observe(item.producer_id, item.topic, item.seq) != DUPLICATE
            )
        else:
            ended: EndOfStreamEvent = event  # type: ignore[assignment]
            if tracker.observe(ended.producer_id, ended.topic, ended.seq) != DUPLICATE:
                self.ending.record(ended.topic, ended.producer_id)
        if tracker.pending is not None:
            tracker.raise_pending()

    def skip_bad(self, error: Exception) -> None:
        """Count an item that cannot be used (its store config or payload is bad), or raise.

        ``error`` is one of `CONTENT_ERRORS`. Outside skip mode a proxyflow
        error is raised as it is, and any other (a ``TypeError`` from a
        hostile field) as an
        [`EventDecodeError`][proxyflow.stream.exceptions.EventDecodeError].

        Raises:
            ProxyflowError: ``error`` or the `EventDecodeError` wrapping it,
                unless bad messages are skipped.
        """
        if not self._skip_bad:
            if isinstance(error, ProxyflowError):
                raise error
            raise EventDecodeError(
                f"an event's content cannot be used: {type(error).__name__}: {error}"
            ) from error
        if isinstance(error, EventRejectedError):
            self._stats.untrusted += 1
        else:
            self._stats.skipped_bad_messages += 1
