"""Settling items: what became of each one, told to its source, as a result.

A [`Settler`][proxyflow.executors._settling.Settler] decides, when an item's
attempt ends, whether it succeeded, is retried here, is given back to the
broker for redelivery or is given up on; tells an acknowledging source
(``ack``, ``nack``, ``reject``) and builds the item's
[`DispatchResult`][proxyflow.executors.results.DispatchResult].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, NamedTuple, TypeVar

from proxyflow.executors._events import Entry
from proxyflow.executors._options import DispatchOptions
from proxyflow.executors._tally import Tally
from proxyflow.executors.protocols import ItemSource
from proxyflow.executors.results import DispatchResult, Settlement

__all__ = ["Settler"]

R = TypeVar("R")


class _Told(NamedTuple):
    """What the source was told, and the error it raised when told."""

    settlement: Settlement
    error: BaseException | None


class Settler(Generic[R]):
    """Settles the items of one dispatcher.

    Args:
        source: The dispatcher's source.
        options: The dispatcher's checked options.
        tally: The dispatcher's counters.
        retry_later: Schedules a local resubmission of an item.
    """

    def __init__(
        self,
        source: ItemSource,
        options: DispatchOptions,
        tally: Tally,
        retry_later: Callable[[Entry], None],
    ) -> None:
        self._source: Any = source
        self._options = options
        self._tally = tally
        self._retry_later = retry_later

    def conclude(
        self, entry: Entry, value: Any, error: BaseException | None
    ) -> DispatchResult[R] | None:
        """Settle an item whose attempt ended; ``None`` when it will be resubmitted here."""
        options = self._options
        if error is None:
            self._tally.count("succeeded")
            return self.result(entry, value, None, Settlement.ACKED)
        if options.redeliver:
            delivered = self._delivery_count(entry)
            entry.attempts = max(entry.attempts, delivered)
            if delivered <= options.retries:
                self._tally.count("retried")
                return self.result(entry, None, error, Settlement.NACKED, options.retry_delay)
        elif entry.attempts <= options.retries:
            self._tally.count("retried")
            self._retry_later(entry)
            return None
        self._tally.count("failed")
        final = Settlement.REJECTED if options.rejecting else Settlement.NACKED
        return self.result(entry, None, error, final)

    def give_back(self, entry: Entry, value: Any, error: BaseException | None) -> DispatchResult[R]:
        """Settle an item whose result the caller will not get (the dispatcher closed)."""
        if error is None:
            self._tally.count("succeeded")
            return self.result(entry, value, None, Settlement.ACKED)
        self._tally.count("cancelled")
        return self.result(entry, None, error, Settlement.NACKED)

    def result(
        self,
        entry: Entry,
        value: Any,
        error: BaseException | None,
        settlement: Settlement,
        delay: float | None = None,
    ) -> DispatchResult[R]:
        """Tell the source what became of the item and build its result."""
        told = self._tell(entry, settlement, delay)
        return DispatchResult(
            index=entry.index,
            metadata=entry.metadata,
            item=entry.item,
            result=value,
            exception=error,
            attempts=entry.attempts,
            settlement=told.settlement,
            settle_error=told.error,
        )

    def _delivery_count(self, entry: Entry) -> int:
        """How many times the broker handed out the item (the attempts when it cannot tell now)."""
        try:
            return int(self._source.delivery_count(entry.item))
        except Exception:
            return entry.attempts

    def _tell(self, entry: Entry, settlement: Settlement, delay: float | None) -> _Told:
        if not self._options.acking:
            return _Told(Settlement.CONSUMED, None)
        source = self._source
        self._tally.count(settlement.value)
        try:
            if settlement is Settlement.ACKED:
                source.ack(entry.item)
            elif settlement is Settlement.REJECTED:
                source.reject(entry.item)
            elif delay:
                source.nack(entry.item, delay=delay)
            else:
                source.nack(entry.item)
        except Exception as exc:
            self._tally.count("settle_errors")
            return _Told(settlement, exc)
        return _Told(settlement, None)
