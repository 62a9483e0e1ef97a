"""What the dispatcher's threads tell each other: held items and their events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from proxyflow.executors.exceptions import DispatchCancelledError


@dataclass(eq=False)
class Entry:
    """An item the dispatcher holds: read, and not yet handed back."""

    index: int
    metadata: Any
    item: Any
    attempts: int = 0
    future: Any = None


class Done(NamedTuple):
    entry: Entry
    future: Any


class SubmitFailed(NamedTuple):
    entry: Entry
    error: Exception


class ReaderEnded(NamedTuple):
    error: BaseException | None


class Wake(NamedTuple):
    pass


Event = Done | SubmitFailed | ReaderEnded | Wake


def cancelled_error(cause: BaseException | None = None) -> DispatchCancelledError:
    """The error recorded for an item whose task did not succeed before ``close``."""
    message = "the dispatcher was closed before this item's task succeeded"
    if cause is not None:
        message += f" ({type(cause).__name__}: {cause})"
    return DispatchCancelledError(message)
