"""Proxies as Dask citizens, and dispatching on a real local Dask cluster (worker processes)."""

from __future__ import annotations

import queue
from typing import Any

import numpy as np
import pfx_tasks
import pytest
from pfx_support import SPAWN, produce, reads

from proxyflow.executors import ProxyTask, ResultPolicy, Settlement, dispatch
from proxyflow.proxy import Proxy, ProxyResolveError, extract, get_factory, is_resolved

dask_base = pytest.importorskip("dask.base")
dask_sizeof = pytest.importorskip("dask.sizeof")


def _stream_proxies(store: Any, arrays: list[Any]) -> list[Any]:
    """Proxies as a consumer hands them out: no target type, so isinstance would resolve."""
    consumer = produce(store, arrays)
    with consumer:
        return list(consumer)


def test_tokenize_and_sizeof_leave_proxies_unresolved(file_store: Any) -> None:
    typed = file_store.proxy(np.ones(1 << 20))
    token = dask_base.tokenize(typed)
    assert token == dask_base.tokenize(typed)
    assert dask_sizeof.sizeof(typed) < 1000
    assert not is_resolved(typed)
    assert reads(file_store) == 0
    assert dask_base.tokenize(file_store.proxy(np.ones(1 << 20))) != token  # another key
    # The token is the object's identity (store, key, evict), shared by every proxy of it.
    # A proxy without a target type is resolved by tokenize all the same: Dask calls
    # isinstance on it first, and only resolving can answer that truthfully.
    same = file_store.proxy_from_key(get_factory(typed).key)  # type: ignore[attr-defined]
    assert dask_base.tokenize(same) == token
    assert is_resolved(same)
    assert extract(typed).nbytes == 8 << 20
    assert dask_sizeof.sizeof(typed) >= 8 << 20  # resolved: measured as its target


def test_sizeof_and_task_tokens_leave_stream_proxies_unresolved(file_store: Any) -> None:
    (streamed,) = _stream_proxies(file_store, [np.ones(1 << 20)])
    assert dask_sizeof.sizeof(streamed) < 1000
    task = ProxyTask(pfx_tasks.total, streamed)
    assert dask_base.tokenize(task) == dask_base.tokenize(task)
    assert dask_base.tokenize(task) != dask_base.tokenize(ProxyTask(pfx_tasks.total, streamed))
    assert not is_resolved(streamed)
    assert reads(file_store) == 0


def test_client_submit_of_a_proxy_does_not_resolve_it(dask_client: Any, file_store: Any) -> None:
    proxy = file_store.proxy(np.arange(1000), evict=True)
    future = dask_client.submit(pfx_tasks.describe, proxy)
    arrived_unresolved, nbytes, _pid = future.result(timeout=60)
    assert arrived_unresolved
    assert nbytes == 8000
    assert not is_resolved(proxy)
    assert reads(file_store) == 0  # neither the client nor the scheduler (same process) read it
    assert file_store.connector.stats()["objects"] == 0  # the worker read and evicted it


def test_client_submit_of_a_proxy_task_does_not_resolve(dask_client: Any, file_store: Any) -> None:
    (streamed,) = _stream_proxies(file_store, [np.arange(1000)])
    future = dask_client.submit(ProxyTask(pfx_tasks.describe, streamed))
    assert future.result(timeout=60)[:2] == (True, 8000)
    assert not is_resolved(streamed)
    assert reads(file_store) == 0


def test_dispatch_a_stream_on_a_local_cluster(dask_client: Any, file_store: Any) -> None:
    arrays = [np.full(50_000, i, dtype=np.int64) for i in range(6)]
    consumer = produce(file_store, arrays)
    with consumer:
        results = list(
            dispatch(consumer, pfx_tasks.describe, dask_client, ordered=True, timeout=60)
        )
    assert [r.metadata["i"] for r in results] == list(range(6))
    assert all(r.get()[:2] == (True, 400_000) for r in results)
    assert all(r.settlement is Settlement.CONSUMED for r in results)
    assert not any(is_resolved(r.item) for r in results)
    assert reads(file_store) == 0
    assert file_store.connector.stats()["objects"] == 0


def test_failures_and_results_by_reference_on_dask(dask_client: Any, file_store: Any) -> None:
    consumer = produce(file_store, [2, 3, 300_000])
    policy = ResultPolicy(file_store, min_bytes=1024)
    with consumer:
        results = {
            r.index: r
            for r in dispatch(
                consumer, pfx_tasks.make_bytes, dask_client, results=policy, timeout=60
            )
        }
    assert results[0].get() == b"rr"
    large = results[2].get()
    assert type(large) is Proxy
    assert len(extract(large)) == 300_000


def test_retries_on_dask_and_what_evict_means_for_them(dask_client: Any, file_store: Any) -> None:
    consumer = produce(file_store, [4, 7])
    with consumer:
        results = {
            r.index: r
            for r in dispatch(consumer, pfx_tasks.fail_if_odd, dask_client, retries=1, timeout=60)
        }
    assert results[0].get() == 4
    assert results[0].attempts == 1
    failed = results[1]
    assert failed.attempts == 2
    # The first attempt resolved the evict=True proxy (evicting the object), then failed; the
    # consumer does not acknowledge, so the retry finds the object gone, and says so.
    assert isinstance(failed.exception, ProxyResolveError)
    assert "ObjectMissingError" in str(failed.exception)


def test_the_dispatcher_process_never_holds_the_object(
    dask_client: Any, file_store: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The dispatcher process trusts the store's directory (inherited by the spawned process).
    monkeypatch.setenv("PROXYFLOW_TRUSTED_LOCATIONS", f"file:{file_store.connector.store_dir}")
    size = 256 << 20
    channel = SPAWN.Queue()
    reports = SPAWN.Queue()
    from proxyflow.shims.queue import QueuePublisher
    from proxyflow.stream import StreamProducer

    producer = StreamProducer(QueuePublisher({"big": channel}), default_store=file_store)
    producer.send("big", np.ones(size // 8), evict=True)
    producer.close(topics=["big"], stores=False)
    address = dask_client.scheduler.address
    process = SPAWN.Process(
        target=pfx_tasks.dispatch_in_a_fresh_process, args=(address, channel, "big", reports)
    )
    process.start()
    try:
        kind, value = reports.get(timeout=180)
    except queue.Empty:
        pytest.fail("the dispatcher process did not report")
    finally:
        process.join(30)
        if process.is_alive():
            process.terminate()
    assert kind == "done", value
    outcomes, peak_rss, unresolved_in_dispatcher = value
    assert outcomes[0][:2] == (True, size)
    assert unresolved_in_dispatcher
    assert peak_rss < size, f"dispatcher peak RSS {peak_rss >> 20} MiB >= object {size >> 20} MiB"
    assert reads(file_store) == 0  # the scheduler (in this process) never read it either
