"""What the dispatcher yields: [`DispatchResult`][proxyflow.executors.results.DispatchResult]."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["DispatchResult", "DispatchStats", "Settlement"]

R = TypeVar("R")


class Settlement(str, enum.Enum):
    """What the dispatcher told the source about an item."""

    CONSUMED = "consumed"
    """The source does not acknowledge: the item was taken from the stream when it was read."""
    ACKED = "acked"
    """Acknowledged: its task succeeded; the broker forgets the item."""
    NACKED = "nacked"
    """Given back for redelivery: its task failed (no dead-letter place) or never finished."""
    REJECTED = "rejected"
    """Rejected: its task failed on every attempt; the item went to the dead-letter place."""


@dataclass(frozen=True, eq=False)
class DispatchResult(Generic[R]):
    """The outcome of one stream item's task.

    Attributes:
        index: The item's position in the stream, counting from 0 (the
            order ``ordered=True`` yields in).
        metadata: The item's metadata, as the source returned it.
        item: The item itself, still a proxy (the dispatcher never resolves it).
        result: What the task returned (a proxy of it when a
            [`ResultPolicy`][proxyflow.executors.policy.ResultPolicy] stored
            it), or ``None`` when it failed.
        exception: Why the last attempt failed, or ``None``.
        attempts: How many times the task was submitted.
        settlement: What the source was told about the item.
        settle_error: The error the source raised when told, or ``None``
            (the broker will then deliver the item again: at-least-once).
    """

    index: int
    metadata: Any
    item: Any
    result: R | None
    exception: BaseException | None
    attempts: int
    settlement: Settlement
    settle_error: BaseException | None = None

    @property
    def ok(self) -> bool:
        """Whether the task succeeded."""
        return self.exception is None

    def get(self) -> R:
        """Return the task's result, or raise its exception.

        Raises:
            BaseException: The task's exception, when it failed.
        """
        if self.exception is not None:
            raise self.exception
        return self.result  # type: ignore[return-value]


@dataclass
class DispatchStats:
    """Counters of a [`Dispatcher`][proxyflow.executors.dispatcher.Dispatcher] (read, do not write).

    Attributes:
        read: Items read from the source.
        submitted: Tasks submitted (retries included).
        succeeded: Items whose task succeeded.
        failed: Items whose task failed on every attempt.
        retried: Resubmissions after a failure.
        cancelled: Items whose task never finished (the dispatcher was closed first).
        acked: Items acknowledged.
        nacked: Items given back for redelivery.
        rejected: Items rejected (dead-lettered).
        settle_errors: Acknowledgements the source failed to pass on.
        yielded: Results handed to the caller.
    """

    read: int = 0
    submitted: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    cancelled: int = 0
    acked: int = 0
    nacked: int = 0
    rejected: int = 0
    settle_errors: int = 0
    yielded: int = 0
