"""Dispatching a real stream (queue shim, file store, evict=True) to a process pool."""

from __future__ import annotations

import functools
import pickle
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import numpy as np
import pfx_tasks
import pytest
from pfx_support import SPAWN, WatchedSource, produce, reads

from proxyflow.executors import (
    Dispatcher,
    ProxyTask,
    ResultPolicy,
    StoredResult,
    dispatch,
    result_nbytes,
)
from proxyflow.proxy import Proxy, extract, is_resolved


def test_objects_stay_in_the_store_until_a_worker_resolves_them(
    processes: ProcessPoolExecutor, file_store: Any
) -> None:
    arrays = [np.full(10, i) for i in range(3)]
    source = WatchedSource(produce(file_store, arrays))
    manager = SPAWN.Manager()
    try:
        gate = manager.Event()
        task = functools.partial(pfx_tasks.gated_total, gate)
        dispatcher = Dispatcher(source, task, processes, timeout=60)
        results = iter(dispatcher)
        collected: list[Any] = []
        runner = threading.Thread(target=lambda: collected.extend(results))
        runner.start()
        assert source.wait_asked(4)  # 3 items read and submitted, then the end of the stream
        # Submitted, pickled to the workers, and still in the store: nobody resolved them.
        assert file_store.connector.stats()["objects"] == 3
        assert reads(file_store) == 0
        gate.set()
        runner.join(60)
    finally:
        manager.shutdown()
    assert sorted(r.result for r in collected) == [0, 10, 20]
    assert not any(is_resolved(r.item) for r in collected)
    assert reads(file_store) == 0  # this process never read an object
    assert file_store.connector.stats()["objects"] == 0  # the workers evicted them


def test_results_by_reference(processes: ProcessPoolExecutor, file_store: Any) -> None:
    source = produce(file_store, [100, 200_000])
    policy = ResultPolicy(file_store, min_bytes=64 * 1024)
    results = sorted(
        dispatch(source, pfx_tasks.make_bytes, processes, results=policy, timeout=60),
        key=lambda r: r.index,
    )
    small, large = results[0].get(), results[1].get()
    assert type(small) is bytes
    assert len(small) == 100
    assert type(large) is Proxy
    assert not is_resolved(large)
    assert len(extract(large)) == 200_000
    assert file_store.connector.stats()["objects"] == 0  # evicted on first resolve


def test_a_task_that_cannot_be_pickled_is_reported(
    processes: ProcessPoolExecutor, file_store: Any
) -> None:
    source = produce(file_store, [1])
    (result,) = list(dispatch(source, lambda x: x, processes, timeout=60))
    assert not result.ok
    assert "pickle" in repr(result.exception).lower()


def test_policy_and_task_pickles_are_small(file_store: Any) -> None:
    policy = ResultPolicy(file_store, min_bytes=10, evict=False)
    copy = pickle.loads(pickle.dumps(policy))
    assert (copy.config, copy.min_bytes, copy.evict) == (file_store.config(), 10, False)
    proxy = file_store.proxy(np.zeros(1 << 20), evict=True)
    task = ProxyTask(pfx_tasks.total, proxy, policy)
    assert len(pickle.dumps(task)) < 1000
    assert not is_resolved(proxy)
    assert pickle.loads(pickle.dumps(task))() == 0
    stored = ProxyTask(bytes, 100, policy)()
    assert type(stored) is StoredResult
    assert type(stored.proxy) is Proxy
    assert len(pickle.dumps(stored)) < 1000
    assert extract(stored.proxy) == bytes(100)
    with pytest.raises(ValueError, match="min_bytes"):
        ResultPolicy(file_store, min_bytes=-1)


def test_result_nbytes() -> None:
    assert result_nbytes(b"abc") == 3
    assert result_nbytes(np.zeros(10, dtype=np.uint8)) == 10
    assert result_nbytes(memoryview(b"abcd")) == 4
    assert 1 << 20 <= result_nbytes({"a": np.zeros(1 << 20, dtype=np.uint8)}) < (1 << 20) + 1000


def test_a_proxy_result_is_kept(threads: ThreadPoolExecutor, file_store: Any) -> None:
    policy = ResultPolicy(file_store, min_bytes=0)
    proxy = file_store.proxy(b"x" * 10)
    assert policy.apply(proxy) is proxy
    assert type(policy.apply(b"y" * 10)) is Proxy
