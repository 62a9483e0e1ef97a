"""How an asyncio consumer awaits its messages, and ends a work-sharing topic by its roster.

The asyncio form of [`EventReader.receive`][proxyflow.stream._reader.EventReader.receive]:
messages (or deliveries) are awaited from an asyncio subscriber and handed to
the shared, sans-I/O ``EventReader.accept``. On a work-sharing subscriber
(its ``roster(topic)`` is a coroutine) the end of a topic follows the
synchronous rule of [`EndOfStream`][proxyflow.stream._reader.EndOfStream]:
once the subscriber is idle, the rosters are awaited, and when every
producer that joined has left, one last look that finds nothing ends the
stream. ``EndOfStream`` reads rosters synchronously, so it is given the
snapshots awaited for the decision at hand; any other time a roster reads as
still open, so an end-of-stream event alone never ends a topic whose
producers keep a roster.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Mapping
from typing import Any

from proxyflow.api import AsyncSubscriber, Roster
from proxyflow.stream._async_acks import AsyncAckTracker
from proxyflow.stream._reader import ROSTER_POLL, EndOfStream, EventReader
from proxyflow.stream.exceptions import ConsumerTimeoutError

__all__ = ["AsyncReceiver"]

_UNREAD = Roster(frozenset((b"",)), frozenset())
"""What a topic's roster is taken to be until it was read for the decision at hand: open."""


class AsyncReceiver:
    """Awaits messages for one asyncio consumer and feeds them to its reader.

    Args:
        subscriber: The asyncio subscriber.
        acks: The consumer's acknowledgement tracker (``None``: none).
        timeout: Seconds to wait for a message; ``None`` waits forever.
        topics: The topics whose end ends the stream (empty: those seen).

    Attributes:
        sharing: Whether the subscriber keeps a roster (work-sharing).
        reader: The consumer's event reader; set by the consumer once built.
    """

    __slots__ = ("_acks", "_rosters", "_subscriber", "_timeout", "_topics", "reader", "sharing")

    def __init__(
        self,
        subscriber: AsyncSubscriber,
        acks: AsyncAckTracker | None,
        timeout: float | None,
        topics: tuple[str, ...],
    ) -> None:
        self._subscriber = subscriber
        self._acks = acks
        self._timeout = timeout
        self._topics = topics
        self._rosters: dict[str, Roster] = {}
        self.sharing = inspect.iscoroutinefunction(getattr(subscriber, "roster", None))
        self.reader: EventReader | None = None

    def ending(self, producers_per_topic: int | Mapping[str, int]) -> EndOfStream:
        """The end-of-stream accounting for the reader, reading this receiver's roster snapshots."""
        snapshot = self._snapshot if self.sharing else None
        return EndOfStream(self._topics, producers_per_topic, snapshot)

    def _snapshot(self, topic: str) -> Roster:
        """The roster of ``topic`` read for the current decision (open if not read)."""
        return self._rosters.get(topic, _UNREAD)

    async def _refresh(self, ending: EndOfStream) -> None:
        """Await the roster of every topic that decides the end."""
        roster = self._subscriber.roster  # type: ignore[attr-defined]
        for topic in ending.deciding_topics():
            self._rosters[topic] = await roster(topic)

    async def _take(self, wait: float | None) -> tuple[Any, Any]:
        """Await one message (and its wrapped delivery, with acknowledgements)."""
        acks = self._acks
        if acks is None:
            return await self._subscriber.next_message(wait), None
        got = await self._subscriber.next_delivery(wait)  # type: ignore[attr-defined]
        return got.message, acks.wrap(got)

    async def _take_sharing(self, ending: EndOfStream) -> tuple[Any, Any] | None:
        """Await a message on a work-sharing subscriber; ``None`` once the rosters end the stream.

        Waits ``ROSTER_POLL`` seconds at a time; when nothing came, reads the
        rosters and, if they say every producer left, takes one last look
        (every message of those producers was in the broker before the read).

        Raises:
            TimeoutError: If nothing arrived and the stream did not end in time.
            EOFError: If the subscriber was closed.
        """
        timeout = self._timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = ROSTER_POLL
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            try:
                return await self._take(wait)
            except TimeoutError:
                pass
            try:
                await self._refresh(ending)
                complete = ending.complete()
                late = not complete and deadline is not None and time.monotonic() >= deadline
                detail = ending.describe_open() if late else ""
            finally:
                self._rosters.clear()  # a snapshot serves only the decision it was read for
            if complete:
                try:
                    return await self._take(0)
                except TimeoutError:
                    return None
            if late:
                raise TimeoutError(detail)

    async def receive(self, wait: float | None = None) -> bool:
        """Await one message and decode it; a closed subscriber ends the stream.

        With ``wait``, wait that long instead of the timeout and return
        ``False`` if nothing came.

        Raises:
            ConsumerTimeoutError: If no message arrived within the timeout.
            EventDecodeError: On a bad message, unless bad messages are skipped.
        """
        reader = self.reader
        assert reader is not None
        ending = reader.ending
        sharing = self.sharing and wait is None
        acks = self._acks
        try:
            if sharing:
                got = await self._take_sharing(ending)
                if got is None:
                    ending.done = True
                    return True
            else:
                got = await self._take(self._timeout if wait is None else wait)
            message, delivery = got
        except EOFError:
            ending.done = True
            reader.eof = True
            return True
        except TimeoutError as exc:
            if wait is not None:
                return False
            detail = str(exc) if sharing else ending.describe_open()
            raise ConsumerTimeoutError(
                f"no message arrived within {self._timeout} seconds; {detail}"
            ) from exc
        try:
            reader.accept(message, delivery)
        finally:
            if acks is not None:
                await acks.drain()
        return True
