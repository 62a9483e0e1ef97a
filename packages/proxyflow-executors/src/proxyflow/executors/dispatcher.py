"""The dispatcher: one task per stream item, proxies never resolved here.

[`Dispatcher`][proxyflow.executors.dispatcher.Dispatcher] and its one-call form
[`dispatch`][proxyflow.executors.dispatcher.dispatch].
"""

from __future__ import annotations

import heapq
import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from proxyflow.api import Closeable
from proxyflow.executors._events import (
    Done,
    Entry,
    Event,
    ReaderEnded,
    SubmitFailed,
    Wake,
    cancelled_error,
)
from proxyflow.executors.engines import Engine, engine_for
from proxyflow.executors.exceptions import DispatcherClosedError, DispatchTimeoutError
from proxyflow.executors.policy import ResultPolicy
from proxyflow.executors.protocols import AckingItemSource, ItemSource
from proxyflow.executors.results import DispatchResult, DispatchStats, Settlement
from proxyflow.executors.tasks import ProxyTask, StoredResult

__all__ = ["DEFAULT_MAX_IN_FLIGHT", "Dispatcher", "dispatch"]

R = TypeVar("R")

DEFAULT_MAX_IN_FLIGHT = 16
"""Items read but not yet handed back, by default."""

_CLOSE_TIMEOUT = 10.0
"""Seconds ``close`` waits, by default, for running tasks to end."""

_JOIN_TIMEOUT = 1.0
"""Seconds ``close`` waits for the reader thread (it may be blocked in the source)."""


class Dispatcher(Closeable, Generic[R]):
    """Runs ``fn(item)`` on an executor for every item of a stream.

    Iterating a dispatcher reads the source from a background thread, submits
    one task per item and yields a
    [`DispatchResult`][proxyflow.executors.results.DispatchResult] per item,
    in completion order or, with ``ordered=True``, in stream order.

    **Proxies stay unresolved.** Each task is a
    [`ProxyTask`][proxyflow.executors.tasks.ProxyTask] carrying the item
    inside: the engine sees no argument to inspect, and only the proxy's
    pickle (the store config and key) leaves this process. The object's bytes
    go from the store to the worker that uses them.

    **Back-pressure.** At most ``max_in_flight`` items are held at once (read
    and not yet handed to the caller: queued, running, waiting for a retry,
    or finished and waiting for an earlier item with ``ordered=True``). While
    that many are held, the reader stops reading the stream, so a slow
    cluster slows the consumer down instead of filling memory.

    **Acknowledgements.** When the source can acknowledge
    ([`AckingItemSource`][proxyflow.executors.protocols.AckingItemSource]),
    an item is acknowledged once its task has succeeded. A failed task is
    submitted again, with the same proxy, up to ``retries`` times, after
    ``retry_delay`` seconds; then the item is rejected (dead-lettered) when the
    source supports it, else given back with ``nack``, and its result carries
    the exception: a failure is always handed to the caller. A source that
    cannot acknowledge has handed the item over when it was read.

    Retrying needs the object to still be in its store: with a source that
    acknowledges, an ``evict=True`` object is evicted on acknowledgement, so
    retries work; with one that does not, it is evicted when a worker first
    resolves it, so a task that failed *after* resolving its proxy fails
    again on retry (with the store's missing-object error, reported).

    **Closing.** [`close`][proxyflow.executors.dispatcher.Dispatcher.close]
    (also on leaving a ``with`` block or breaking out of the iteration) stops
    reading, cancels the tasks that have not started, waits up to its
    ``timeout`` for the running ones, acknowledges those that succeed and
    gives every other held item back with ``nack`` (when the source
    acknowledges). Their results are not yielded: they are listed in
    [`undelivered`][proxyflow.executors.dispatcher.Dispatcher.undelivered].
    The executor itself is left running. A reader blocked in a source with
    no timeout ends when the next message arrives (that item is given back)
    or when the source is closed.

    Args:
        source: The stream consumer (or any
            [`ItemSource`][proxyflow.executors.protocols.ItemSource]).
        fn: The picklable function to call on each item, in the workers.
        executor: A ``concurrent.futures.Executor`` or a Dask ``distributed.Client``.
        max_in_flight: Items held at once (see back-pressure).
        ordered: Yield results in stream order instead of completion order.
        retries: Resubmissions of a failed task before giving up on its item.
        retry_delay: Seconds to wait before each resubmission.
        results: A [`ResultPolicy`][proxyflow.executors.policy.ResultPolicy]
            storing large results in the worker and returning proxies.
        acknowledge: Whether to acknowledge items; ``None`` does so when the
            source has ``ack`` and ``nack``.
        timeout: Seconds to wait for anything to happen (a task finishing,
            the reader moving on) before raising
            [`DispatchTimeoutError`][proxyflow.executors.exceptions.DispatchTimeoutError];
            ``None`` waits forever.

    Raises:
        ValueError: For a ``max_in_flight`` below 1, negative ``retries``,
            ``retry_delay`` or ``timeout``.
        TypeError: If ``acknowledge=True`` and the source cannot acknowledge.
        UnsupportedExecutorError: If ``executor`` is not supported.

    Example:
        ```python
        with Dispatcher(consumer, analyse, pool, max_in_flight=8) as dispatcher:
            for outcome in dispatcher:
                print(outcome.metadata, outcome.get())
        print(dispatcher.stats)
        ```
    """

    def __init__(
        self,
        source: ItemSource,
        fn: Callable[[Any], R],
        executor: object,
        *,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        ordered: bool = False,
        retries: int = 0,
        retry_delay: float = 0.0,
        results: ResultPolicy | None = None,
        acknowledge: bool | None = None,
        timeout: float | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, got {max_in_flight!r}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries!r}")
        if retry_delay < 0:
            raise ValueError(f"retry_delay must be >= 0, got {retry_delay!r}")
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0 or None, got {timeout!r}")
        can_ack = isinstance(source, AckingItemSource)
        if acknowledge and not can_ack:
            raise TypeError(
                f"acknowledge=True needs a source with ack() and nack(); "
                f"{type(source).__name__} has none"
            )
        self._engine: Engine = engine_for(executor)
        self._source = source
        self._read_pair = source.next_with_metadata
        self._fn = fn
        self._policy = results
        self._max_in_flight = max_in_flight
        self._ordered = ordered
        self._retries = retries
        self._retry_delay = retry_delay
        self._timeout = timeout
        self._acking = can_ack if acknowledge is None else acknowledge
        self._rejecting = self._acking and callable(getattr(source, "reject", None))
        self._slots = threading.Semaphore(max_in_flight)
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._held: dict[int, Entry] = {}  # read, result not yet handed back
        self._running: dict[int, Entry] = {}  # with a live future
        self._retrying: list[tuple[float, int, Entry]] = []  # heap by due time
        self._finished: dict[int, DispatchResult[R]] = {}  # settled, not yet yielded
        self._next_index = 0
        self._stopping = threading.Event()
        self._reader: threading.Thread | None = None
        self._reader_ended = False
        self._reader_error: BaseException | None = None
        self._started = False
        self._closed = False
        self.stats = DispatchStats()
        """Counters of items read, tasks submitted, outcomes and acknowledgements."""
        self.undelivered: list[DispatchResult[R]] = []
        """Results not handed to the caller because the dispatcher was closed first."""

    @property
    def closed(self) -> bool:
        """Whether [`close`][proxyflow.executors.dispatcher.Dispatcher.close] was called."""
        return self._closed

    @property
    def in_flight(self) -> int:
        """Items held now: read and not yet handed back."""
        with self._lock:
            return len(self._held)

    # -- iteration (the caller's thread) --------------------------------------------------------

    def __iter__(self) -> Iterator[DispatchResult[R]]:
        """Yield results until the stream ends (dispatching starts with the first ``next``).

        Raises:
            DispatcherClosedError: If the dispatcher is closed or already iterated.
            DispatchTimeoutError: If nothing happened within ``timeout``.
            BaseException: What the source raised (a decode error, its own
                timeout), after the results of the items read before it.
        """
        with self._lock:
            if self._closed or self._started:
                raise DispatcherClosedError(
                    "a dispatcher is iterated once; create a new one to dispatch again"
                )
            self._started = True
        return self._results()

    def _results(self) -> Iterator[DispatchResult[R]]:
        wait_on_close: float | None = _CLOSE_TIMEOUT
        try:
            if self._closed:
                return
            self._reader = threading.Thread(
                target=self._read_loop, name="proxyflow-dispatch-reader", daemon=True
            )
            self._reader.start()
            while not self._stopping.is_set():
                if self._reader_ended and self._idle():
                    break
                event = self._wait()
                if event is None:
                    self._resubmit_due()
                    continue
                if self._stopping.is_set():
                    self._handle_closing(event)
                    break
                self._handle(event)
                while (ready := self._pop_ready()) is not None:
                    yield ready
            if self._reader_error is not None and not self._stopping.is_set():
                raise self._reader_error
        except DispatchTimeoutError:
            wait_on_close = 0.0  # the running tasks are stuck: do not wait for them
            raise
        finally:
            self.close(timeout=wait_on_close)

    def _idle(self) -> bool:
        with self._lock:
            return not self._held

    def _wait(self) -> Event | None:
        """Return the next event, or ``None`` when a retry is due first."""
        wait = self._timeout
        with self._lock:
            due = self._retrying[0][0] - time.monotonic() if self._retrying else None
        if due is not None and (wait is None or due < wait):
            try:
                return self._events.get(timeout=max(0.0, due))
            except queue.Empty:
                return None
        try:
            return self._events.get(timeout=wait)
        except queue.Empty:
            raise DispatchTimeoutError(
                f"no task finished and the stream did not move within {self._timeout} s "
                f"({self.in_flight} items in flight)"
            ) from None

    def _pop_ready(self) -> DispatchResult[R] | None:
        """Take the next result to hand over, in the configured order, and free its slot."""
        with self._lock:
            if self._ordered:
                result = self._finished.pop(self._next_index, None)
                if result is None:
                    return None
                self._next_index += 1
            elif self._finished:
                result = self._finished.popitem()[1]
            else:
                return None
            self._held.pop(result.index, None)
            self.stats.yielded += 1
        self._slots.release()
        return result

    def _handle(self, event: Event) -> None:
        if isinstance(event, ReaderEnded):
            self._reader_ended = True
            self._reader_error = event.error
            return
        if isinstance(event, Wake):
            return
        entry = event.entry
        value: Any = None
        error: BaseException | None
        if isinstance(event, SubmitFailed):
            error = event.error
        else:
            with self._lock:
                self._running.pop(entry.index, None)
            outcome = self._engine.outcome(event.future)
            self._engine.release(event.future)
            value, error = outcome.result, outcome.exception
            if type(value) is StoredResult:
                value = value.proxy
        result = self._finish(entry, value, error)
        if result is not None:
            with self._lock:
                self._finished[entry.index] = result

    def _finish(
        self, entry: Entry, value: Any, error: BaseException | None
    ) -> DispatchResult[R] | None:
        """Settle an item whose attempt ended; ``None`` when it will be retried."""
        if error is None:
            self._count("succeeded")
            return self._result(entry, value, None, Settlement.ACKED)
        if entry.attempts <= self._retries:
            self._count("retried")
            due = time.monotonic() + self._retry_delay
            with self._lock:
                heapq.heappush(self._retrying, (due, entry.index, entry))
            return None
        self._count("failed")
        final = Settlement.REJECTED if self._rejecting else Settlement.NACKED
        return self._result(entry, None, error, final)

    def _result(
        self, entry: Entry, value: Any, error: BaseException | None, settlement: Settlement
    ) -> DispatchResult[R]:
        """Tell the source what became of the item and build its result."""
        told, settle_error = self._settle(entry, settlement)
        return DispatchResult(
            index=entry.index,
            metadata=entry.metadata,
            item=entry.item,
            result=value,
            exception=error,
            attempts=entry.attempts,
            settlement=told,
            settle_error=settle_error,
        )

    def _settle(
        self, entry: Entry, settlement: Settlement
    ) -> tuple[Settlement, BaseException | None]:
        if not self._acking:
            return Settlement.CONSUMED, None
        source: Any = self._source
        self._count(settlement.value)
        try:
            if settlement is Settlement.ACKED:
                source.ack(entry.item)
            elif settlement is Settlement.REJECTED:
                source.reject(entry.item)
            else:
                source.nack(entry.item)
        except Exception as exc:
            self._count("settle_errors")
            return settlement, exc
        return settlement, None

    def _count(self, counter: str) -> None:
        with self._lock:
            setattr(self.stats, counter, getattr(self.stats, counter) + 1)

    def _resubmit_due(self) -> None:
        now = time.monotonic()
        while True:
            with self._lock:
                if not self._retrying or self._retrying[0][0] > now:
                    return
                _, _, entry = heapq.heappop(self._retrying)
            self._submit(entry)

    # -- reading and submitting (the reader thread) --------------------------------------------

    def _read_loop(self) -> None:
        error: BaseException | None = None
        counter = itertools.count()
        try:
            while True:
                self._slots.acquire()
                if self._stopping.is_set():
                    break
                try:
                    metadata, item = self._read_pair()
                except StopIteration:
                    break
                except BaseException as exc:  # raised at the caller, in its turn
                    error = exc
                    break
                entry = Entry(next(counter), metadata, item)
                with self._lock:
                    self._held[entry.index] = entry
                self._count("read")
                self._submit(entry)
        finally:
            self._events.put(ReaderEnded(error))

    def _submit(self, entry: Entry) -> None:
        task = ProxyTask(self._fn, entry.item, self._policy)
        with self._lock:
            stopping = self._stopping.is_set()
            if not stopping:
                entry.attempts += 1
                try:
                    future = self._engine.submit(task)
                except Exception as exc:  # not picklable, executor shut down, ...
                    self._events.put(SubmitFailed(entry, exc))
                    return
                entry.future = future
                self._running[entry.index] = entry
                self.stats.submitted += 1
        if stopping:
            self._give_back(entry, cancelled_error())
            return
        self._engine.add_done_callback(future, lambda: self._events.put(Done(entry, future)))

    # -- closing --------------------------------------------------------------------------------

    def _give_back(self, entry: Entry, error: BaseException | None, value: Any = None) -> None:
        """Settle an item whose result the caller will not get, once, and record it."""
        with self._lock:
            if self._held.pop(entry.index, None) is None:
                return  # settled already, by the other thread
        if error is None:
            self._count("succeeded")
            result = self._result(entry, value, None, Settlement.ACKED)
        else:
            self._count("cancelled")
            result = self._result(entry, None, error, Settlement.NACKED)
        self.undelivered.append(result)

    def _handle_closing(self, event: Event) -> None:
        """Handle an event that arrived after ``close`` began."""
        if isinstance(event, ReaderEnded):
            self._reader_ended = True
            return
        if isinstance(event, Wake):
            return
        entry = event.entry
        with self._lock:
            self._running.pop(entry.index, None)
        if isinstance(event, SubmitFailed):
            self._give_back(entry, cancelled_error(event.error))
            return
        outcome = self._engine.outcome(event.future)
        self._engine.release(event.future)
        if outcome.exception is None:
            value = outcome.result
            self._give_back(entry, None, value.proxy if type(value) is StoredResult else value)
        else:
            self._give_back(entry, cancelled_error(outcome.exception))

    def close(self, *, timeout: float | None = _CLOSE_TIMEOUT) -> None:
        """Stop dispatching: cancel what has not started and settle every held item.

        Tasks not yet started are cancelled; running ones get ``timeout``
        seconds to end (``None``: no limit). A task that succeeds in that
        time is acknowledged; every other held item is given back with
        ``nack`` when the source acknowledges. None of their results are
        yielded; they are appended to
        [`undelivered`][proxyflow.executors.dispatcher.Dispatcher.undelivered]
        (with [`DispatchCancelledError`][proxyflow.executors.exceptions.DispatchCancelledError]
        for those that did not succeed), and so are results that had
        finished but waited for an earlier item (``ordered=True``). The
        executor and the source stay open. Calling ``close`` again does nothing.

        Args:
            timeout: Seconds to wait for running tasks.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stopping.set()
            running = list(self._running.values())
        self._slots.release()  # a reader waiting for room wakes up and sees the stop
        self._events.put(Wake())
        for entry in running:
            self._engine.cancel(entry.future)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                if not self._running:
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
            finished = [self._finished.pop(i) for i in sorted(self._finished)]
            for result in finished:
                self._held.pop(result.index, None)
            left = sorted(self._held.values(), key=lambda e: e.index)
            self._running.clear()
            self._retrying.clear()
        self.undelivered.extend(finished)
        for entry in left:
            self._give_back(entry, cancelled_error())
        if self._reader is not None:
            self._reader.join(_JOIN_TIMEOUT)

    def __repr__(self) -> str:
        return (
            f"Dispatcher(max_in_flight={self._max_in_flight}, ordered={self._ordered}, "
            f"retries={self._retries}, in_flight={self.in_flight}, closed={self._closed})"
        )


def dispatch(
    source: ItemSource,
    fn: Callable[[Any], R],
    executor: object,
    *,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ordered: bool = False,
    retries: int = 0,
    retry_delay: float = 0.0,
    results: ResultPolicy | None = None,
    acknowledge: bool | None = None,
    timeout: float | None = None,
) -> Iterator[DispatchResult[R]]:
    """Run ``fn(item)`` on ``executor`` for every item of ``source``; yield the results.

    The one-call form of [`Dispatcher`][proxyflow.executors.dispatcher.Dispatcher]
    (see it for every option and guarantee). Options are checked now;
    dispatching starts with the first ``next()``. Leaving the loop early (a
    ``break``, an exception) closes the dispatcher: pending tasks are
    cancelled and their items given back.

    Args:
        source: The stream consumer (or any
            [`ItemSource`][proxyflow.executors.protocols.ItemSource]).
        fn: The picklable function to call on each item, in the workers.
        executor: A ``concurrent.futures.Executor`` or a Dask ``distributed.Client``.
        max_in_flight: Items held at once (read and not yet yielded).
        ordered: Yield results in stream order instead of completion order.
        retries: Resubmissions of a failed task before giving up on its item.
        retry_delay: Seconds to wait before each resubmission.
        results: A policy storing large results in the worker.
        acknowledge: Whether to acknowledge items (default: when the source can).
        timeout: Seconds to wait for anything to happen; ``None``: forever.

    Returns:
        An iterator of [`DispatchResult`][proxyflow.executors.results.DispatchResult].

    Example:
        ```python
        from concurrent.futures import ProcessPoolExecutor
        from proxyflow.executors import dispatch

        with ProcessPoolExecutor(4) as pool, consumer:
            for outcome in dispatch(consumer, analyse, pool, max_in_flight=8):
                print(outcome.index, outcome.get())
        ```
    """
    dispatcher: Dispatcher[R] = Dispatcher(
        source,
        fn,
        executor,
        max_in_flight=max_in_flight,
        ordered=ordered,
        retries=retries,
        retry_delay=retry_delay,
        results=results,
        acknowledge=acknowledge,
        timeout=timeout,
    )
    return iter(dispatcher)
