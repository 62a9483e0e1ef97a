"""Reading events: messages from the subscriber become pending items; ends are counted."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence

from proxyflow.stream._decode import Batch, InlineItem, Item, StoredItem, decode
from proxyflow.stream._decode import EndOfStream as EndOfStreamEvent
from proxyflow.stream._stats import ConsumerStats
from proxyflow.stream.exceptions import ConsumerTimeoutError, EventDecodeError
from proxyflow.stream.protocols import Subscriber

__all__ = ["EndOfStream", "EventReader"]


class EndOfStream:
    """Counts end-of-stream events per topic and producer, and says when the stream ended.

    The stream ends when every topic of ``topics`` has received end-of-stream
    events from its expected number of distinct producer ids; with no topics,
    when the first topic that ends does.

    Args:
        topics: The topics whose end ends the stream.
        producers_per_topic: Producers ending each topic: an ``int`` for all,
            or a mapping topic -> count (missing topics count 1).

    Raises:
        ValueError: If a count is below 1.
    """

    __slots__ = ("_counts", "_default", "_ended", "_topics", "done")

    def __init__(self, topics: Sequence[str], producers_per_topic: int | Mapping[str, int]) -> None:
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
        self.done = False
        """Whether the stream has ended (its last events may still be pending)."""

    def record(self, topic: str, producer_id: bytes) -> None:
        """Count one end-of-stream event."""
        producers = self._ended.setdefault(topic, set())
        producers.add(producer_id)
        if self._topics:
            self.done = all(
                len(self._ended.get(t, ())) >= self._counts.get(t, self._default)
                for t in self._topics
            )
        else:
            self.done = len(producers) >= self._counts.get(topic, self._default)


class EventReader:
    """Takes messages from a subscriber, decodes them and queues their items in ``pending``.

    Not thread-safe: the consumer calls it under its lock.

    Args:
        subscriber: The broker subscriber.
        timeout: Seconds to wait for a message (``None``: forever).
        ending: The end-of-stream accounting.
        skip_bad: Whether undecodable messages are counted and skipped
            rather than raised.
        stats: The consumer's counters.
    """

    __slots__ = ("_skip_bad", "_stats", "_subscriber", "_timeout", "ending", "pending", "taken")

    def __init__(
        self,
        subscriber: Subscriber,
        timeout: float | None,
        ending: EndOfStream,
        *,
        skip_bad: bool,
        stats: ConsumerStats,
    ) -> None:
        self._subscriber = subscriber
        self._timeout = timeout
        self.ending = ending
        """The end-of-stream accounting (``ending.done``: the stream ended)."""
        self._skip_bad = skip_bad
        self._stats = stats
        self.pending: deque[Item] = deque()
        """Decoded items not handed out yet, in stream order."""
        self.taken = 0
        """Messages taken from the subscriber so far."""

    def receive(self, *, probe: bool = False) -> bool:
        """Take one message and queue its items (or count its end of stream).

        With ``probe``, only take a message that already arrived and return
        ``False`` when there is none. A closed subscriber ends the stream.

        Raises:
            ConsumerTimeoutError: If no message arrived within the timeout.
            EventDecodeError: On a bad message, unless bad messages are skipped.
        """
        try:
            message = self._subscriber.next_message(0 if probe else self._timeout)
        except EOFError:
            self.ending.done = True
            return True
        except TimeoutError as exc:
            if probe:
                return False
            raise ConsumerTimeoutError(
                f"no message arrived within {self._timeout} seconds"
            ) from exc
        self.taken += 1
        try:
            event = decode(message)
        except EventDecodeError:
            if not self._skip_bad:
                raise
            self._stats.skipped_bad_messages += 1
            return True
        self._stats.events += 1
        kind = type(event)
        if kind is StoredItem or kind is InlineItem:
            self.pending.append(event)  # type: ignore[arg-type]
        elif kind is Batch:
            self.pending.extend(event.items)  # type: ignore[union-attr]
        else:
            ended: EndOfStreamEvent = event  # type: ignore[assignment]
            self.ending.record(ended.topic, ended.producer_id)
        return True

    def skip_bad(self, error: EventDecodeError) -> None:
        """Count an item that cannot be used (its store config or payload is bad), or raise.

        Raises:
            EventDecodeError: ``error``, unless bad messages are skipped.
        """
        if not self._skip_bad:
            raise error
        self._stats.skipped_bad_messages += 1
