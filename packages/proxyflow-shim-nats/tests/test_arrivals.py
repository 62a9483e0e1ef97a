"""``Arrivals``: the flag a subscriber's readers wait on, with a timed wait and no task."""

from __future__ import annotations

import asyncio

import pytest

from proxyflow.shims.nats.puller import Arrivals


def test_set_wakes_every_waiter_and_a_set_flag_returns_at_once() -> None:
    async def scenario() -> tuple[list[bool], bool]:
        arrivals = Arrivals()
        loop = asyncio.get_running_loop()
        waiting = [asyncio.ensure_future(arrivals.wait(30.0)) for _ in range(3)]
        await asyncio.sleep(0)
        start = loop.time()
        arrivals.set()
        await asyncio.wait_for(asyncio.gather(*waiting), 5.0)
        woken_at_once = loop.time() - start < 5.0
        await asyncio.wait_for(arrivals.wait(30.0), 5.0)  # set: no wait at all
        return [task.done() for task in waiting], woken_at_once and not arrivals._waiters

    done, clean = asyncio.run(scenario())
    assert done == [True, True, True]
    assert clean


def test_a_wait_times_out_without_an_error_and_leaves_nothing_behind() -> None:
    async def scenario() -> tuple[float, int, bool]:
        arrivals = Arrivals()
        loop = asyncio.get_running_loop()
        start = loop.time()
        await arrivals.wait(0.05)
        return loop.time() - start, len(arrivals._waiters), arrivals.is_set()

    waited, left, is_set = asyncio.run(scenario())
    assert waited >= 0.04
    assert left == 0
    assert not is_set


def test_a_cancelled_wait_is_cancelled_and_removed() -> None:
    async def scenario() -> int:
        arrivals = Arrivals()
        task = asyncio.ensure_future(arrivals.wait(30.0))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        arrivals.set()  # nothing left to wake
        arrivals.clear()
        return len(arrivals._waiters)

    assert asyncio.run(scenario()) == 0
