"""Counting the subscriptions an ``XPUB`` socket announces, for ``wait_for_subscribers``."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import zmq

from proxyflow.api import normalise_topics
from proxyflow.shims.zmq.exceptions import SubscriberWaitTimeoutError
from proxyflow.shims.zmq.framing import topic_frame

__all__ = ["READ_NOTICES_EVERY", "WAIT_SLICE_S", "SubscriptionCounts", "Wanted"]

WAIT_SLICE_S = 0.1
"""Longest single wait of ``wait_for_subscribers`` for a notice, in seconds."""

READ_NOTICES_EVERY = 1024
"""Sends between two reads of queued (un)subscription notices by a publisher.

ZeroMQ routes messages by the subscriptions it has seen whether or not the
notices are read, so reading them on every send (a failed non-blocking
receive, about 3 us) buys nothing: ``subscriber_count`` and
``wait_for_subscribers`` read them first anyway. The periodic read only
bounds the memory the notices of a long-lived publisher with many joining and
leaving subscribers take.
"""


class SubscriptionCounts:
    """The subscriptions a verbose ``XPUB`` socket has announced, per prefix.

    The socket must have ``XPUB_VERBOSE`` and ``XPUB_VERBOSER`` set, so that
    every (un)subscription is passed up, not only the first and last per
    prefix. Not thread-safe: the publisher calls it under its lock (or on its
    event loop).
    """

    def __init__(self) -> None:
        self._prefixes: Counter[bytes] = Counter()

    def drain(self, socket: zmq.Socket[Any], wait_ms: int) -> None:
        """Read the pending notices of ``socket``; wait up to ``wait_ms`` for the first.

        Raises:
            zmq.ZMQError: as pyzmq raises it; the caller translates it.
        """
        if wait_ms > 0 and not socket.poll(wait_ms, zmq.POLLIN):
            return
        self.read(socket)

    def read(self, socket: zmq.Socket[Any]) -> None:
        """Read the notices ``socket`` has queued, without waiting.

        Args:
            socket: A synchronous socket (or a shadow of an asyncio one).

        Raises:
            zmq.ZMQError: as pyzmq raises it; the caller translates it.
        """
        prefixes = self._prefixes
        while True:
            try:
                notice = socket.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            if not notice:
                continue
            prefix = notice[1:]
            if notice[0] == 1:
                prefixes[prefix] += 1
            elif notice[0] == 0 and prefixes[prefix] > 0:
                prefixes[prefix] -= 1
                if not prefixes[prefix]:
                    del prefixes[prefix]

    def count(self, frame: bytes) -> int:
        """Return how many subscriptions match the topic frame ``frame``."""
        return sum(n for prefix, n in self._prefixes.items() if frame.startswith(prefix))

    def counts(self, frames: Sequence[bytes] | None) -> dict[str, int]:
        """Return the count of each topic frame, or of all subscriptions under ``"*"``."""
        if frames is None:
            return {"*": sum(self._prefixes.values())}
        return {frame[:-1].decode(): self.count(frame) for frame in frames}


class Wanted:
    """What a ``wait_for_subscribers`` call waits for, and its verdict on the counts seen.

    The deadline starts when the object is made.

    Args:
        count: Number of subscriptions to wait for, per topic.
        topics: Topics to check; ``None`` counts all subscriptions together.
        timeout: Seconds to wait in all (``None``: forever).
        exact: Wait for exactly ``count``.

    Raises:
        InvalidTopicError: if a topic contains a NUL character.
    """

    def __init__(
        self, count: int, topics: str | Sequence[str] | None, timeout: float | None, exact: bool
    ) -> None:
        self.count = count
        self.timeout = timeout
        self.exact = exact
        self.frames = (
            None
            if topics is None
            else tuple(topic_frame(t) for t in normalise_topics(topics, allow_empty=True))
        )
        self._deadline = None if timeout is None else time.monotonic() + timeout

    def next_wait(self, subscriptions: SubscriptionCounts) -> float | None:
        """Return ``None`` if the counts are as wanted, else the seconds to wait for a notice.

        Raises:
            SubscriberWaitTimeoutError: if the deadline passed (the message
                gives the counts seen).
        """
        seen = subscriptions.counts(self.frames)
        if self.exact:
            if all(n == self.count for n in seen.values()):
                return None
        elif all(n >= self.count for n in seen.values()):
            return None
        if self._deadline is None:
            return WAIT_SLICE_S
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            want = "exactly" if self.exact else "at least"
            raise SubscriberWaitTimeoutError(
                f"wanted {want} {self.count} subscriber(s) per topic within {self.timeout}s, "
                f"saw {seen}"
            )
        return min(WAIT_SLICE_S, remaining)
