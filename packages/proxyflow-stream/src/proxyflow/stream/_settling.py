"""The clock of the wait at the end of an acknowledged stream, for both consumers.

At the end of a stream read over an acknowledging subscriber, a consumer
waits until every item it handed out is settled and every delivery given back
has come again. Both consumers wait in short slices (`SETTLE_POLL`), and the
consumer's timeout counts from the last settlement: `SettleClock` tells how
long the next slice is and raises once the timeout passed with no progress.
"""

from __future__ import annotations

import time

from proxyflow.stream._acks import AckTracker
from proxyflow.stream.exceptions import ConsumerTimeoutError

__all__ = ["SETTLE_POLL", "SettleClock"]

SETTLE_POLL = 0.1
"""Seconds of each wait for a redelivery at the end of an acknowledged stream."""


class SettleClock:
    """The timeout of a consumer's end-of-stream wait, restarted by every settlement.

    Args:
        acks: The consumer's acknowledgement tracker (its ``progress`` counts settlements).
        timeout: The consumer's timeout; ``None`` waits forever.
    """

    __slots__ = ("_acks", "_deadline", "_progress", "_timeout")

    def __init__(self, acks: AckTracker, timeout: float | None) -> None:
        self._acks = acks
        self._timeout = timeout
        self._progress = acks.progress
        self._deadline = None if timeout is None else time.monotonic() + timeout

    def next_wait(self) -> float:
        """Return the seconds to wait for a message now.

        Raises:
            ConsumerTimeoutError: If nothing was settled within the timeout.
        """
        timeout = self._timeout
        if self._acks.progress != self._progress:
            self._progress = self._acks.progress
            self._deadline = None if timeout is None else time.monotonic() + timeout
        if self._deadline is None:
            return SETTLE_POLL
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise ConsumerTimeoutError(
                f"the stream ended, but for {timeout} seconds no item read from it was "
                "settled and none given back came again: settle every item (ack, "
                "nack or reject) before asking for the end"
            )
        return min(SETTLE_POLL, left)
