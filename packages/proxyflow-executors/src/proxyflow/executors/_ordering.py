"""Results waiting to be handed to the caller, in completion or stream order."""

from __future__ import annotations

from typing import Generic, TypeVar

from proxyflow.executors.results import DispatchResult

__all__ = ["ResultOrder"]

R = TypeVar("R")


class ResultOrder(Generic[R]):
    """The settled results not handed over yet.

    In completion order any finished result is ready; in stream order
    (``ordered=True``) only the one whose index comes next. Not thread-safe:
    the dispatcher calls it with its lock held.

    Args:
        ordered: Hand results over in stream order.
    """

    def __init__(self, *, ordered: bool) -> None:
        self._ordered = ordered
        self._finished: dict[int, DispatchResult[R]] = {}
        self._next_index = 0

    def add(self, result: DispatchResult[R]) -> None:
        """Keep a settled result until it may be handed over."""
        self._finished[result.index] = result

    def pop_ready(self) -> DispatchResult[R] | None:
        """Return and forget the next result to hand over, or ``None`` if none may go yet."""
        if self._ordered:
            result = self._finished.pop(self._next_index, None)
            if result is not None:
                self._next_index += 1
            return result
        return self._finished.popitem()[1] if self._finished else None

    def drain(self) -> list[DispatchResult[R]]:
        """Return and forget every result kept, by stream index (when closing)."""
        results = [self._finished[i] for i in sorted(self._finished)]
        self._finished.clear()
        return results
