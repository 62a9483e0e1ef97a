"""One run of a dispatcher: the event loop that hands results over, and closing.

A [`DispatchRun`][proxyflow.executors._run.DispatchRun] ties the parts of a
[`Dispatcher`][proxyflow.executors.dispatcher.Dispatcher] together: the
[`Intake`][proxyflow.executors._intake.Intake] reads and submits on its
thread; the caller's thread takes the events it and the tasks post, lets the
[`Settler`][proxyflow.executors._settling.Settler] settle each item, resubmits
due retries and hands results over through the
[`ResultOrder`][proxyflow.executors._ordering.ResultOrder]. ``close`` stops
all that and settles every item still held.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from proxyflow.executors._events import (
    Done,
    Entry,
    Event,
    ReaderEnded,
    SubmitFailed,
    Wake,
    cancelled_error,
)
from proxyflow.executors._intake import Intake
from proxyflow.executors._options import DispatchOptions
from proxyflow.executors._ordering import ResultOrder
from proxyflow.executors._retries import RetryQueue
from proxyflow.executors._settling import Settler
from proxyflow.executors._tally import Tally
from proxyflow.executors.engines import Engine, Outcome
from proxyflow.executors.exceptions import DispatchTimeoutError
from proxyflow.executors.policy import ResultPolicy
from proxyflow.executors.protocols import ItemSource
from proxyflow.executors.results import DispatchResult, DispatchStats
from proxyflow.executors.tasks import StoredResult

__all__ = ["CLOSE_TIMEOUT", "DispatchRun"]

R = TypeVar("R")

CLOSE_TIMEOUT = 10.0
"""Seconds ``close`` waits, by default, for running tasks to end."""

_JOIN_TIMEOUT = 1.0
"""Seconds ``close`` waits for the reader thread (it may be blocked in the source)."""


class DispatchRun(Generic[R]):
    """The state and threads of one dispatcher.

    Args:
        source: The items to dispatch.
        fn: The function each task calls on its item.
        engine: Where tasks run.
        options: The dispatcher's checked options.
        policy: How tasks store large results, if at all.
    """

    def __init__(
        self,
        source: ItemSource,
        fn: Callable[[Any], R],
        engine: Engine,
        options: DispatchOptions,
        policy: ResultPolicy | None,
    ) -> None:
        self._options = options
        self._engine = engine
        self._lock = threading.Lock()
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.stats = DispatchStats()
        self.undelivered: list[DispatchResult[R]] = []
        tally = Tally(self.stats, self._lock)
        self._intake = Intake(
            source.next_with_metadata,
            engine,
            fn,
            policy,
            max_in_flight=options.max_in_flight,
            lock=self._lock,
            events=self._events,
            tally=tally,
            on_stopped=lambda entry: self._give_back(entry, cancelled_error()),
        )
        self._settler: Settler[R] = Settler(source, options, tally, self._retry_later)
        self._order: ResultOrder[R] = ResultOrder(ordered=options.ordered)
        self._retrying = RetryQueue()
        self._reader_ended = False
        self._reader_error: BaseException | None = None
        self._started = False
        self.closed = False

    @property
    def in_flight(self) -> int:
        """Items held now: read and not yet handed back."""
        with self._lock:
            return len(self._intake.held)

    def begin(self) -> bool:
        """Mark the run iterated; ``False`` if it was already, or is closed."""
        with self._lock:
            if self.closed or self._started:
                return False
            self._started = True
            return True

    def results(self) -> Iterator[DispatchResult[R]]:
        """Start the reader; yield results until the stream ends; close on the way out."""
        wait_on_close: float | None = CLOSE_TIMEOUT
        intake = self._intake
        try:
            if self.closed:
                return
            intake.start()
            while not intake.stopping:
                if self._reader_ended and self.in_flight == 0:
                    break
                event = self._wait()
                if event is None:
                    self._resubmit_due()
                    continue
                if intake.stopping:
                    self._handle_closing(event)
                    break
                self._handle(event)
                while (ready := self._pop_ready()) is not None:
                    yield ready
            if self._reader_error is not None and not intake.stopping:
                raise self._reader_error
        except DispatchTimeoutError:
            wait_on_close = 0.0  # the running tasks are stuck: do not wait for them
            raise
        finally:
            self.close(timeout=wait_on_close)

    def _wait(self) -> Event | None:
        """Return the next event, or ``None`` when a retry is due first."""
        wait = self._options.timeout
        with self._lock:
            due_at = self._retrying.next_due()
        due = None if due_at is None else due_at - time.monotonic()
        if due is not None and (wait is None or due < wait):
            try:
                return self._events.get(timeout=max(0.0, due))
            except queue.Empty:
                return None
        try:
            return self._events.get(timeout=wait)
        except queue.Empty:
            raise DispatchTimeoutError(
                f"no task finished and the stream did not move within {wait} s "
                f"({self.in_flight} items in flight)"
            ) from None

    def _pop_ready(self) -> DispatchResult[R] | None:
        """Take the next result to hand over, in the configured order, and free its slot."""
        with self._lock:
            result = self._order.pop_ready()
            if result is None:
                return None
            self._intake.held.pop(result.index, None)
            self.stats.yielded += 1
        self._intake.free_slot()
        return result

    def _collect(self, event: Done) -> Outcome:
        """Forget a finished task's future; return its outcome (a stored result as its proxy)."""
        with self._lock:
            self._intake.running.pop(event.entry.index, None)
        outcome = self._engine.outcome(event.future)
        self._engine.release(event.future)
        if type(outcome.result) is StoredResult:
            return outcome._replace(result=outcome.result.proxy)
        return outcome

    def _handle(self, event: Event) -> None:
        if isinstance(event, ReaderEnded):
            self._reader_ended = True
            self._reader_error = event.error
            return
        if isinstance(event, Wake):
            return
        if isinstance(event, SubmitFailed):
            result = self._settler.conclude(event.entry, None, event.error)
        else:
            outcome = self._collect(event)
            result = self._settler.conclude(event.entry, outcome.result, outcome.exception)
        if result is not None:
            with self._lock:
                self._order.add(result)

    def _retry_later(self, entry: Entry) -> None:
        due = time.monotonic() + self._options.retry_delay
        with self._lock:
            self._retrying.push(entry, due)

    def _resubmit_due(self) -> None:
        now = time.monotonic()
        while True:
            with self._lock:
                entry = self._retrying.pop_due(now)
            if entry is None:
                return
            self._intake.submit(entry)

    # -- closing --------------------------------------------------------------------------------

    def _give_back(self, entry: Entry, error: BaseException | None, value: Any = None) -> None:
        """Settle an item whose result the caller will not get, once, and record it."""
        with self._lock:
            if self._intake.held.pop(entry.index, None) is None:
                return  # settled already, by the other thread
        self.undelivered.append(self._settler.give_back(entry, value, error))

    def _handle_closing(self, event: Event) -> None:
        """Handle an event that arrived after ``close`` began."""
        if isinstance(event, ReaderEnded):
            self._reader_ended = True
            return
        if isinstance(event, Wake):
            return
        if isinstance(event, SubmitFailed):
            with self._lock:
                self._intake.running.pop(event.entry.index, None)
            self._give_back(event.entry, cancelled_error(event.error))
            return
        outcome = self._collect(event)
        if outcome.exception is None:
            self._give_back(event.entry, None, outcome.result)
        else:
            self._give_back(event.entry, cancelled_error(outcome.exception))

    def close(self, timeout: float | None) -> None:
        """Stop, cancel, wait up to ``timeout`` for running tasks, settle every held item."""
        intake = self._intake
        with self._lock:
            if self.closed:
                return
            self.closed = True
            running = intake.stop()
        intake.wake()
        self._events.put(Wake())
        for entry in running:
            self._engine.cancel(entry.future)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                if not intake.running:
                    break
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            try:
                event = self._events.get(timeout=remaining)
            except queue.Empty:
                break
            self._handle_closing(event)
        with self._lock:
            finished = self._order.drain()
            for result in finished:
                intake.held.pop(result.index, None)
            left = sorted(intake.held.values(), key=lambda e: e.index)
            intake.running.clear()
            self._retrying.clear()
        self.undelivered.extend(finished)
        for entry in left:
            self._give_back(entry, cancelled_error())
        intake.join(_JOIN_TIMEOUT)
