"""The dispatcher: one task per stream item, proxies never resolved here.

[`Dispatcher`][proxyflow.executors.dispatcher.Dispatcher] and its one-call form
[`dispatch`][proxyflow.executors.dispatcher.dispatch].
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from proxyflow.api import Closeable
from proxyflow.executors._options import DispatchOptions
from proxyflow.executors._run import CLOSE_TIMEOUT, DispatchRun
from proxyflow.executors.engines import engine_for
from proxyflow.executors.exceptions import DispatcherClosedError
from proxyflow.executors.policy import ResultPolicy
from proxyflow.executors.protocols import ItemSource
from proxyflow.executors.results import DispatchResult, DispatchStats

__all__ = ["DEFAULT_MAX_IN_FLIGHT", "Dispatcher", "dispatch"]

R = TypeVar("R")

DEFAULT_MAX_IN_FLIGHT = 16
"""Items read but not yet handed back, by default."""


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

    With ``redeliver=True`` a failed item is retried **through the broker**
    instead: it is given back with ``nack(item, delay=retry_delay)`` while
    the broker has handed it out at most ``retries`` times (the source's
    ``delivery_count(item)``), its failed result is yielded with
    ``settlement=NACKED``, and the broker hands it out again, to this
    dispatcher or to another one sharing the stream (a new item, read like
    the others); after that it is rejected. This needs a
    [`StreamConsumer`][proxyflow.stream.StreamConsumer] with
    ``ack="manual"`` over an acknowledging subscriber (or any source with
    ``delivery_count``). The stream then ends only when every item read is
    settled and every item given back has come again.

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
            source has ``ack`` and ``nack`` (and, for a ``StreamConsumer``,
            when it ``acknowledges``).
        redeliver: Retry failed items through the broker (see above).
        timeout: Seconds to wait for anything to happen (a task finishing,
            the reader moving on) before raising
            [`DispatchTimeoutError`][proxyflow.executors.exceptions.DispatchTimeoutError];
            ``None`` waits forever.

    Raises:
        ValueError: For a ``max_in_flight`` below 1, negative ``retries``,
            ``retry_delay`` or ``timeout``.
        TypeError: If ``acknowledge=True`` (or ``redeliver=True``) and the
            source cannot acknowledge (or count deliveries), or if the source
            is a consumer that acknowledges on its own (``ack="auto"``): its
            items would be acknowledged before their tasks finished.
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
        redeliver: bool = False,
    ) -> None:
        options = DispatchOptions.check(
            source,
            max_in_flight=max_in_flight,
            ordered=ordered,
            retries=retries,
            retry_delay=retry_delay,
            timeout=timeout,
            acknowledge=acknowledge,
            redeliver=redeliver,
        )
        self._options = options
        self._run: DispatchRun[R] = DispatchRun(source, fn, engine_for(executor), options, results)
        self.stats: DispatchStats = self._run.stats
        """Counters of items read, tasks submitted, outcomes and acknowledgements."""
        self.undelivered: list[DispatchResult[R]] = self._run.undelivered
        """Results not handed to the caller because the dispatcher was closed first."""

    @property
    def closed(self) -> bool:
        """Whether [`close`][proxyflow.executors.dispatcher.Dispatcher.close] was called."""
        return self._run.closed

    @property
    def in_flight(self) -> int:
        """Items held now: read and not yet handed back."""
        return self._run.in_flight

    def __iter__(self) -> Iterator[DispatchResult[R]]:
        """Yield results until the stream ends (dispatching starts with the first ``next``).

        Raises:
            DispatcherClosedError: If the dispatcher is closed or already iterated.
            DispatchTimeoutError: If nothing happened within ``timeout``.
            BaseException: What the source raised (a decode error, its own
                timeout), after the results of the items read before it.
        """
        if not self._run.begin():
            raise DispatcherClosedError(
                "a dispatcher is iterated once; create a new one to dispatch again"
            )
        return self._run.results()

    def close(self, *, timeout: float | None = CLOSE_TIMEOUT) -> None:
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
        self._run.close(timeout)

    def __repr__(self) -> str:
        options = self._options
        return (
            f"Dispatcher(max_in_flight={options.max_in_flight}, ordered={options.ordered}, "
            f"retries={options.retries}, in_flight={self.in_flight}, closed={self.closed})"
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
    redeliver: bool = False,
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
        redeliver: Retry failed items through the broker (nack, then reject
            after ``retries`` deliveries) instead of resubmitting them here.

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
        redeliver=redeliver,
    )
    return iter(dispatcher)
