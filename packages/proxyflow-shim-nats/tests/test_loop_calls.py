"""Calls that cross to the loop thread (``LoopRunner.run``, ``LoopCall``): results, errors,
timeouts, interrupts and a loop that stops or closes while a caller waits."""

from __future__ import annotations

import asyncio
import concurrent.futures
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from proxyflow.shims.nats import JetStreamSubscriber, SubscriberClosedError, _call
from proxyflow.shims.nats.exceptions import StreamFullError
from proxyflow.shims.nats.loop import LoopRunner

WAIT = 5.0  # seconds any step of these tests may take


@pytest.fixture(params=["eventfd", "call_soon_threadsafe"])
def runner(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopRunner]:
    """A runner of its own, woken through an eventfd (Linux) or the loop's self-pipe."""
    if request.param == "eventfd" and not _call._HAS_EVENTFD:
        pytest.skip("no eventfd on this platform")
    monkeypatch.setattr(_call, "_HAS_EVENTFD", request.param == "eventfd")
    runner = LoopRunner()
    yield runner
    runner.stop()


def _until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds (at most ``WAIT`` seconds)."""
    deadline = time.monotonic() + WAIT
    tick = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        tick.wait(0.005)


class _Watched:
    """A coroutine that waits until cancelled, and a flag that says it was."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.cancelled = threading.Event()

    async def forever(self) -> None:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise


def test_a_result_and_a_typed_error_cross_the_hop(runner: LoopRunner) -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    async def fail() -> None:
        await asyncio.sleep(0)
        raise StreamFullError("the stream is full", "nats://x")

    assert runner.run(answer()) == 42
    with pytest.raises(StreamFullError, match="the stream is full") as caught:
        runner.run(fail())
    assert caught.value.backend == "nats://x"
    assert not runner._calls  # nothing left behind


def test_many_threads_share_the_runner(runner: LoopRunner) -> None:
    async def double(value: int) -> int:
        await asyncio.sleep(0)
        return 2 * value

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda v: runner.run(double(v), WAIT), range(400)))
    assert results == [2 * value for value in range(400)]
    assert not runner._calls


def test_a_timeout_cancels_the_coroutine(runner: LoopRunner) -> None:
    watched = _Watched()
    with pytest.raises(TimeoutError, match=r"no result within 0\.2s"):
        runner.run(watched.forever(), timeout=0.2)
    assert watched.cancelled.wait(WAIT)
    assert not runner._calls


def test_a_call_given_up_at_once_never_leaves_its_coroutine_unclosed(runner: LoopRunner) -> None:
    coroutines = []
    for _ in range(50):
        coroutine = _Watched().forever()
        coroutines.append(coroutine)
        with pytest.raises(TimeoutError):
            runner.run(coroutine, timeout=0)  # given up before or after it started
    # Each was cancelled on the loop, or closed unstarted: none is left suspended or unawaited.
    _until(lambda: all(coroutine.cr_frame is None for coroutine in coroutines))
    assert not runner._calls


def test_an_interrupt_of_the_waiting_thread_cancels_the_coroutine(runner: LoopRunner) -> None:
    watched = _Watched()

    def interrupt() -> None:
        if watched.started.wait(WAIT):
            # Ctrl-C: a KeyboardInterrupt in the waiting (main) thread
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    threading.Thread(target=interrupt).start()
    with pytest.raises(KeyboardInterrupt):
        runner.run(watched.forever(), timeout=WAIT)
    assert watched.cancelled.wait(WAIT)


def test_an_interrupt_while_handing_the_call_over_cancels_the_coroutine(
    runner: LoopRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Ctrl-C can land inside ring(), after the loop has already started the call
    # (a CI run of the test above hit that window once).
    watched = _Watched()
    ring = runner._doorbell.ring

    def ring_then_interrupt(call: Any) -> None:
        ring(call)
        assert watched.started.wait(WAIT)
        raise KeyboardInterrupt

    monkeypatch.setattr(runner._doorbell, "ring", ring_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        runner.run(watched.forever(), timeout=WAIT)
    assert watched.cancelled.wait(WAIT)
    assert not runner._calls


def test_a_coroutine_cancelled_on_the_loop_is_a_cancelled_error(runner: LoopRunner) -> None:
    async def cancelled() -> None:
        raise asyncio.CancelledError

    with pytest.raises(concurrent.futures.CancelledError):
        runner.run(cancelled(), timeout=WAIT)


def test_a_loop_stopped_while_a_call_waits_ends_the_wait(runner: LoopRunner) -> None:
    watched = _Watched()
    errors: list[BaseException] = []

    def call() -> None:
        try:
            runner.run(watched.forever(), timeout=WAIT)
        except BaseException as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    assert watched.started.wait(WAIT)
    runner.stop()
    caller.join(WAIT)
    assert not caller.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], concurrent.futures.CancelledError)
    assert watched.cancelled.is_set()


def test_a_call_the_loop_ended_without_running_is_refused(runner: LoopRunner) -> None:
    gate = threading.Event()

    def stop_then_block() -> None:  # runs on the loop: its last turn
        runner.loop.stop()
        gate.wait(WAIT)

    async def never() -> int:
        return 1

    errors: list[BaseException] = []

    def call() -> None:
        try:
            runner.run(never(), timeout=WAIT)
        except BaseException as exc:
            errors.append(exc)

    runner.loop.call_soon_threadsafe(stop_then_block)
    caller = threading.Thread(target=call)
    caller.start()
    _until(lambda: len(runner._calls) == 1)  # scheduled behind the loop's last turn
    gate.set()
    caller.join(WAIT)
    assert not caller.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], RuntimeError)
    assert "ended before the call could run" in str(errors[0])


def test_a_burst_of_calls_queued_while_the_loop_is_busy_is_answered(runner: LoopRunner) -> None:
    gate = threading.Event()
    runner.loop.call_soon_threadsafe(gate.wait, WAIT)  # hold the loop while calls queue up

    async def echo(value: int) -> int:
        return value

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(runner.run, echo(value), WAIT) for value in range(16)]
        _until(lambda: len(runner._calls) == 16)
        gate.set()
        assert [future.result(WAIT) for future in futures] == list(range(16))
    assert not runner._calls


def test_a_call_on_a_closed_loop_is_refused(runner: LoopRunner) -> None:
    runner.stop()

    async def never() -> int:
        return 1

    with pytest.raises(RuntimeError):
        runner.run(never(), timeout=WAIT)
    assert not runner._calls


def test_close_while_a_reader_waits_raises_the_closed_error(nats_url: str, stream: str) -> None:
    subscriber = JetStreamSubscriber(nats_url, "a", durable="w", stream=stream)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            subscriber.next_delivery(timeout=WAIT)
        except BaseException as exc:
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    _until(lambda: subscriber._core._readers == 1)
    subscriber.close()
    reader.join(WAIT)
    assert not reader.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], SubscriberClosedError)


def test_a_runner_without_an_eventfd_still_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_descriptor_left(*_args: object) -> int:
        raise OSError(24, "Too many open files")

    if _call._HAS_EVENTFD:
        monkeypatch.setattr(_call.os, "eventfd", no_descriptor_left)
    runner = LoopRunner()
    try:

        async def answer() -> int:
            return 7

        assert runner.run(answer(), timeout=WAIT) == 7
        assert runner._doorbell._fd is None  # fell back to call_soon_threadsafe
    finally:
        runner.stop()
