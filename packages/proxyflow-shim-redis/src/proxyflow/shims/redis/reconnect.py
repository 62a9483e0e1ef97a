"""Re-establishing a lost connection within a time budget, with a growing pause."""

from __future__ import annotations

from proxyflow.shims.redis.exceptions import BrokerConnectionError

__all__ = ["FIRST_PAUSE", "LONGEST_PAUSE", "Outage"]

FIRST_PAUSE = 0.05
"""Seconds between the first two reconnection attempts."""

LONGEST_PAUSE = 1.0
"""The pause between attempts doubles up to this many seconds."""


class Outage:
    """A connection lost at ``started`` and being re-established for at most ``budget`` seconds.

    The first attempt is due at once; after each failure the pause before the
    next one doubles, from `FIRST_PAUSE` up to `LONGEST_PAUSE`.

    Args:
        started: When the connection was found lost (``time.monotonic()``).
        budget: Seconds to keep trying (``None``: forever).
        cause: The error that reported the loss.

    Attributes:
        cause: The latest error: the loss, then the last failed attempt.
    """

    def __init__(self, started: float, budget: float | None, cause: BrokerConnectionError) -> None:
        self._budget = budget
        self._deadline = None if budget is None else started + budget
        self._next_attempt = started
        self._pause = FIRST_PAUSE
        self.cause = cause

    def expired(self, now: float) -> bool:
        """Whether the budget is spent."""
        return self._deadline is not None and now >= self._deadline

    def until_next_attempt(self, now: float) -> float:
        """Seconds until the next attempt is due (``<= 0``: now)."""
        return self._next_attempt - now

    def failed(self, now: float, error: BrokerConnectionError) -> None:
        """Record a failed attempt at ``now``; the next one waits longer."""
        self.cause = error
        self._next_attempt = now + self._pause
        self._pause = min(self._pause * 2, LONGEST_PAUSE)

    def gave_up(self, topics: object) -> BrokerConnectionError:
        """The error a subscriber of ``topics`` raises once the budget is spent."""
        return BrokerConnectionError(
            f"{self.cause}: the subscriber to {topics} could not reconnect "
            f"within reconnect_timeout={self._budget}s",
            self.cause.url,
        )
