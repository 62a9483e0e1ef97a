"""The end of an acknowledged work-sharing stream: the whole group drained, not only this member.

A work-sharing consumer ends a topic once the broker's roster says every
producer left and it is idle, and, with acknowledgements, once it settled
what it read (`EndOfStream`, ``AckTracker.outstanding``). Another member of
the group may have died holding deliveries: the broker hands them out again
only after its visibility timeout (``ack_wait``), by when every surviving
member would have ended, leaving them unprocessed in the broker and their
objects in the store.

So a consumer whose subscriber reports its group's backlog
([`DrainableSubscriber`][proxyflow.api.protocols.DrainableSubscriber]) also
waits, at that point, until the backlog of every topic that decides the end
is empty (``GroupBacklog.drained``). It keeps reading meanwhile, a
``ROSTER_POLL`` at a time, and hands out what comes back; the backlog is read
once per poll while idle at the end, never per message. `GroupDrain` holds the
decision and its clock; `end_wait` tells both consumers what the end still
waits for. Only the reading differs: the synchronous consumer calls
``backlog`` directly, the asyncio one awaits it.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

from proxyflow.api import GroupBacklog
from proxyflow.stream._acks import AckTracker
from proxyflow.stream._reader import ROSTER_POLL, EndOfStream, EventReader
from proxyflow.stream.exceptions import ConsumerTimeoutError

__all__ = ["EndWait", "GroupDrain", "end_wait"]


class EndWait(enum.Enum):
    """What a stream whose events have ended still waits for before it ends."""

    SETTLE = "settle"
    """Items this consumer read are unsettled, or were given back and have not come again."""
    DRAIN = "drain"
    """The group's backlog was not seen empty yet (another member holds deliveries)."""


def end_wait(
    reader: EventReader, acks: AckTracker | None, drain: GroupDrain | None
) -> EndWait | None:
    """What the end of the stream still waits for, once ``reader.ending.done``; ``None``: nothing.

    A closed subscriber (``reader.eof``) or a consumer without
    acknowledgements waits for nothing.
    """
    if acks is None or reader.eof:
        return None
    if acks.outstanding():
        return EndWait.SETTLE
    if drain is not None and not drain.drained:
        return EndWait.DRAIN
    return None


class GroupDrain:
    """Whether a consumer's group has drained the stream's topics, and the clock of the wait.

    Args:
        ending: The consumer's end-of-stream accounting (which topics decide the end).
        readable: The topics the subscriber reads (empty: it does not say).
        timeout: The consumer's timeout: how long a wait may go without
            progress (a message, or a change of the backlog); ``None``: forever.
        backlog: The subscriber's ``backlog(topic)`` (a coroutine function
            for an asyncio subscriber).
    """

    __slots__ = ("_deadline", "_ending", "_last", "_readable", "_timeout", "backlog", "drained")

    def __init__(
        self,
        ending: EndOfStream,
        readable: Collection[str],
        timeout: float | None,
        backlog: Callable[[str], Any],
    ) -> None:
        self._ending = ending
        self._readable = frozenset(readable)
        self._timeout = timeout
        self._deadline: float | None = None
        self._last: tuple[GroupBacklog, ...] = ()
        self.backlog = backlog
        """The subscriber's ``backlog(topic)``."""
        self.drained = False
        """Whether the group's backlog was seen empty: the stream has ended."""

    def topics(self) -> tuple[str, ...]:
        """The topics whose backlogs decide the end (those the subscriber reads)."""
        topics = self._ending.deciding_topics()
        if self._readable:
            topics = tuple(topic for topic in topics if topic in self._readable)
        return topics

    def start(self) -> None:
        """Start one wait: the timeout counts from now."""
        self._last = ()
        self._restart()

    def _restart(self) -> None:
        timeout = self._timeout
        self._deadline = None if timeout is None else time.monotonic() + timeout

    def observe(self, backlogs: Sequence[GroupBacklog]) -> bool:
        """Record the backlogs of `topics` read now; return whether all are empty.

        Sets ``drained`` when they are. A backlog that changed since the last
        reading counts as progress and restarts the timeout.
        """
        if all(backlog.drained for backlog in backlogs):
            self.drained = True
            return True
        seen = tuple(backlogs)
        if self._last and seen != self._last:
            self._restart()
        self._last = seen
        return False

    def next_wait(self) -> float:
        """Return how long to wait for a message before reading the backlogs again.

        Raises:
            ConsumerTimeoutError: If the timeout passed without progress.
        """
        if self._deadline is None:
            return ROSTER_POLL
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise ConsumerTimeoutError(self._describe())
        return min(ROSTER_POLL, left)

    def _describe(self) -> str:
        held = ", ".join(
            f"{topic!r}: {b.unacknowledged} unacknowledged, {b.undelivered} undelivered"
            for topic, b in zip(self.topics(), self._last, strict=False)
        )
        return (
            f"the stream ended, but for {self._timeout} seconds its consumer group still had "
            f"messages left ({held or 'unknown'}) and none came to this consumer: a member "
            "may have died holding them (the broker hands them out again after its "
            "visibility timeout) or still be working on them; give the consumer a timeout "
            "longer than the visibility timeout, or pass drain_group=False to end without "
            "waiting for the group"
        )
