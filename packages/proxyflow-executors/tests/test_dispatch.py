"""The dispatcher on in-process sources and thread pools: order, back-pressure,
acknowledgements, retries, closing and errors."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pfx_support import AckingSource, ListSource, RejectingSource

from proxyflow.executors import (
    DispatchCancelledError,
    Dispatcher,
    DispatcherClosedError,
    DispatchTimeoutError,
    Settlement,
    UnsupportedExecutorError,
    dispatch,
)


class Gates:
    """Tasks that wait for the test: ``open(i)`` lets item ``i`` finish."""

    def __init__(self, n: int) -> None:
        self.gates = [threading.Event() for _ in range(n)]
        self.started = threading.Semaphore(0)

    def __call__(self, i: int) -> int:
        self.started.release()
        assert self.gates[i].wait(10), f"gate {i} never opened"
        return i * 10

    def open(self, i: int) -> None:
        self.gates[i].set()

    def wait_started(self, count: int) -> None:
        for _ in range(count):
            assert self.started.acquire(timeout=10), "a task did not start"


def test_every_item_gets_one_result(threads: ThreadPoolExecutor) -> None:
    source = ListSource(list(range(20)))
    results = list(dispatch(source, lambda x: x * 2, threads, timeout=10))
    assert sorted(r.result for r in results) == [2 * i for i in range(20)]
    assert all(r.ok and r.attempts == 1 and r.settlement is Settlement.CONSUMED for r in results)
    assert sorted(r.index for r in results) == list(range(20))
    assert all(r.metadata == {"index": r.index} and r.item == r.index for r in results)


def test_completion_order(threads: ThreadPoolExecutor) -> None:
    gates = Gates(3)
    results = dispatch(ListSource([0, 1, 2]), gates, threads, timeout=10)
    opener = threading.Thread(target=lambda: (gates.wait_started(3), gates.open(2)))
    opener.start()
    seen = []
    for result in results:
        seen.append(result.index)
        gates.open(3 - len(seen) - 1 if len(seen) < 3 else 0)
    opener.join(10)
    assert seen == [2, 1, 0]


def test_stream_order_waits_for_the_slowest_earlier_item(threads: ThreadPoolExecutor) -> None:
    gates = Gates(3)
    source = ListSource([0, 1, 2])
    iterator = dispatch(source, gates, threads, ordered=True, timeout=10)
    out: list[int] = []
    reader = threading.Thread(target=lambda: out.extend(r.index for r in iterator))
    reader.start()
    gates.wait_started(3)
    gates.open(2)
    gates.open(1)
    assert not out  # item 0 is still running: nothing may be handed out yet
    gates.open(0)
    reader.join(10)
    assert out == [0, 1, 2]


def test_back_pressure_stops_reading_while_max_in_flight_items_run(
    threads: ThreadPoolExecutor,
) -> None:
    gates = Gates(6)
    source = ListSource(list(range(6)))
    dispatcher = Dispatcher(source, gates, threads, max_in_flight=2, timeout=10)
    iterator = iter(dispatcher)
    out: list[int] = []
    consumer = threading.Thread(target=lambda: out.extend(r.index for r in iterator))
    consumer.start()
    gates.wait_started(2)
    assert source.read == 2  # the reader holds no slot for a third item
    assert dispatcher.in_flight == 2
    gates.open(0)
    assert source.wait_asked(3)  # one result handed out: one more item read
    gates.wait_started(1)
    assert dispatcher.in_flight <= 2
    for i in range(1, 6):
        gates.open(i)
    consumer.join(10)
    assert sorted(out) == list(range(6))
    assert dispatcher.stats.read == 6
    assert dispatcher.stats.yielded == 6


def test_acknowledges_each_item_when_its_task_succeeds(threads: ThreadPoolExecutor) -> None:
    items = [object() for _ in range(5)]
    source = AckingSource(items)
    results = list(dispatch(source, id, threads, timeout=10))
    assert sorted(source.acked) == [0, 1, 2, 3, 4]
    assert source.nacked == []
    assert all(r.settlement is Settlement.ACKED and r.settle_error is None for r in results)
    assert all(r.result == id(r.item) for r in results)


def test_failed_task_is_retried_then_rejected_and_reported(threads: ThreadPoolExecutor) -> None:
    calls: dict[int, int] = {}
    lock = threading.Lock()

    def flaky(x: int) -> int:
        with lock:
            calls[x] = calls.get(x, 0) + 1
            attempt = calls[x]
        if x == 1 and attempt == 1:
            raise RuntimeError("first attempt fails")
        if x == 2:
            raise ValueError("always fails")
        return x

    source = RejectingSource([0, 1, 2, 3])
    dispatcher = Dispatcher(source, flaky, threads, retries=2, timeout=10)
    with dispatcher:
        results = {r.index: r for r in dispatcher}
    assert results[1].ok
    assert results[1].attempts == 2
    assert results[1].result == 1
    failed = results[2]
    assert not failed.ok
    assert failed.attempts == 3
    assert isinstance(failed.exception, ValueError)
    assert failed.settlement is Settlement.REJECTED
    with pytest.raises(ValueError, match="always fails"):
        failed.get()
    assert sorted(source.acked) == [0, 1, 3]
    assert source.rejected == [2]
    assert source.nacked == []
    stats = dispatcher.stats
    assert (stats.succeeded, stats.failed, stats.retried, stats.submitted) == (3, 1, 3, 7)


def test_final_failure_without_dead_letter_is_nacked(threads: ThreadPoolExecutor) -> None:
    source = AckingSource([1, 2])
    results = {r.index: r for r in dispatch(source, lambda x: 1 / (x - 1), threads, timeout=10)}
    assert results[0].settlement is Settlement.NACKED
    assert isinstance(results[0].exception, ZeroDivisionError)
    assert source.nacked == [0]
    assert source.acked == [1]


def test_a_failing_acknowledgement_is_reported(threads: ThreadPoolExecutor) -> None:
    class Broken(AckingSource):
        def ack(self, item: Any) -> None:
            raise ConnectionError("broker gone")

    dispatcher = Dispatcher(Broken([1]), lambda x: x, threads, timeout=10)
    (result,) = list(dispatcher)
    assert result.ok
    assert isinstance(result.settle_error, ConnectionError)
    assert dispatcher.stats.settle_errors == 1


def test_acknowledge_false_leaves_the_source_alone(threads: ThreadPoolExecutor) -> None:
    source = AckingSource([1, 2])
    results = list(dispatch(source, lambda x: x, threads, acknowledge=False, timeout=10))
    assert source.acked == []
    assert all(r.settlement is Settlement.CONSUMED for r in results)
    with pytest.raises(TypeError, match="ack"):
        dispatch(ListSource([]), lambda x: x, threads, acknowledge=True)


def test_breaking_out_cancels_pending_work_and_gives_items_back() -> None:
    gates = Gates(3)

    def work(i: int) -> int:
        return gates(i) if i < 3 else i * 10  # items 0-2 wait for the test

    source = AckingSource(list(range(10)))
    with ThreadPoolExecutor(2) as pool:
        dispatcher = Dispatcher(source, work, pool, max_in_flight=4, timeout=10)
        iterator = iter(dispatcher)
        opener = threading.Thread(
            target=lambda: (gates.wait_started(2), source.wait_asked(4), gates.open(0))
        )
        opener.start()
        first = next(iterator)
        opener.join(10)
        assert first.index == 0
        assert first.settlement is Settlement.ACKED
        gates.open(1)
        gates.open(2)
        iterator.close()  # leaving the loop closes the dispatcher
    assert dispatcher.closed
    assert dispatcher.in_flight == 0
    read = dispatcher.stats.read
    assert 4 <= read <= 5  # max_in_flight held, plus one read after the first result
    undelivered = {r.index: r for r in dispatcher.undelivered}
    assert set(undelivered) == set(range(1, read))
    for result in undelivered.values():
        if result.ok:  # finished while closing: acknowledged, result set aside
            assert result.settlement is Settlement.ACKED
            assert result.result == result.index * 10
        else:
            assert isinstance(result.exception, DispatchCancelledError)
            assert result.settlement is Settlement.NACKED
    # Every item read was settled exactly once.
    assert sorted(source.acked + source.nacked) == list(range(read))
    assert dispatcher.stats.cancelled == len(source.nacked)


def test_source_errors_come_after_the_results_before_them(threads: ThreadPoolExecutor) -> None:
    source = ListSource([0, 1, 2, 3], fail_at=2)
    seen: list[int] = []
    results = dispatch(source, lambda x: x, threads, timeout=10)
    seen.extend(next(results).index for _ in range(2))
    with pytest.raises(ValueError, match="bad message at 2"):
        next(results)
    assert sorted(seen) == [0, 1]


def test_timeout_when_nothing_happens(threads: ThreadPoolExecutor) -> None:
    never = threading.Event()
    source = AckingSource([0])
    try:
        with pytest.raises(DispatchTimeoutError):
            list(dispatch(source, lambda x: never.wait(10), threads, timeout=0.2))
    finally:
        never.set()
    assert source.nacked == [0]  # the stuck item is given back at once


def test_submit_failures_are_reported_per_item() -> None:
    pool = ThreadPoolExecutor(1)
    pool.shutdown()
    results = list(dispatch(ListSource([0, 1]), lambda x: x, pool, retries=1, timeout=10))
    assert len(results) == 2
    assert all(isinstance(r.exception, RuntimeError) and r.attempts == 2 for r in results)


def test_a_dispatcher_is_iterated_once(threads: ThreadPoolExecutor) -> None:
    dispatcher = Dispatcher(ListSource([1]), lambda x: x, threads)
    assert [r.result for r in dispatcher] == [1]
    with pytest.raises(DispatcherClosedError):
        iter(dispatcher)


def test_bad_options_and_executors(threads: ThreadPoolExecutor) -> None:
    source = ListSource([])
    with pytest.raises(UnsupportedExecutorError, match=r"concurrent\.futures\.Executor"):
        dispatch(source, len, object())
    for options in ({"max_in_flight": 0}, {"retries": -1}, {"retry_delay": -1}, {"timeout": -1}):
        with pytest.raises(ValueError):
            dispatch(source, len, threads, **options)  # type: ignore[arg-type]
