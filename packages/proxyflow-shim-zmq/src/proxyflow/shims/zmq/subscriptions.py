"""Counting the subscriptions an ``XPUB`` socket announces, for ``wait_for_subscribers``."""

from __future__ import annotations

from collections import Counter

import zmq

__all__ = ["SubscriptionCounts"]


class SubscriptionCounts:
    """The subscriptions a verbose ``XPUB`` socket has announced, per prefix.

    The socket must have ``XPUB_VERBOSE`` and ``XPUB_VERBOSER`` set, so that
    every (un)subscription is passed up, not only the first and last per
    prefix. Not thread-safe: the publisher calls it under its lock.
    """

    def __init__(self) -> None:
        self._prefixes: Counter[bytes] = Counter()

    def drain(self, socket: zmq.Socket[bytes], wait_ms: int) -> None:
        """Read the pending notices of ``socket``; wait up to ``wait_ms`` for the first.

        Raises:
            zmq.ZMQError: as pyzmq raises it; the caller translates it.
        """
        if wait_ms > 0 and not socket.poll(wait_ms, zmq.POLLIN):
            return
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

    def counts(self, frames: list[bytes] | None) -> dict[str, int]:
        """Return the count of each topic frame, or of all subscriptions under ``"*"``."""
        if frames is None:
            return {"*": sum(self._prefixes.values())}
        return {frame[:-1].decode(): self.count(frame) for frame in frames}
