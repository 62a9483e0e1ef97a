"""resolve_async of a Redis store proxy: read on the event loop, no worker thread."""

from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from proxyflow.proxy import (
    Proxy,
    ProxyPendingError,
    ProxyResolveError,
    get_factory,
    is_resolved,
    resolve_async,
)
from proxyflow.proxy import resolving as resolving_module
from proxyflow.store import ContentDigestError, ObjectMissingError, Store, StoreFactory
from proxyflow.store.registry import unregister_store

pytest.importorskip("redis")
pytestmark = pytest.mark.timeout(30)


class CountingReads:
    """Wraps a connector's get/get_async, counting calls; get_async may wait on a gate."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sync = 0
        self.native = 0
        self.sync_threads: list[str] = []
        self.gate: asyncio.Event | None = None
        self.started: asyncio.Event | None = None
        connector: Any = store.connector
        get, get_async = connector.get, connector.get_async

        def counted_get(key: Any, *, evict: bool = False) -> Any:
            self.sync += 1
            self.sync_threads.append(threading.current_thread().name)
            return get(key, evict=evict)

        async def counted_get_async(key: Any, *, evict: bool = False) -> Any:
            self.native += 1
            if self.started is not None:
                self.started.set()
            if self.gate is not None:
                await asyncio.wait_for(self.gate.wait(), 10)
            return await get_async(key, evict=evict)

        monkeypatch.setattr(connector, "get", counted_get)
        monkeypatch.setattr(connector, "get_async", counted_get_async)


@pytest.fixture
def no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the resolve pool (or asyncio.to_thread) is used."""
    monkeypatch.setattr(resolving_module, "_executor", _refuse)
    monkeypatch.setattr(asyncio, "to_thread", _refuse)


def _run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_awaiting_a_redis_proxy_reads_on_the_loop(
    redis_store: Store, no_thread: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = CountingReads(redis_store, monkeypatch)
    proxy = redis_store.proxy({"a": [1, 2]})

    async def body() -> Any:
        return await resolve_async(proxy)

    assert _run(body()) == {"a": [1, 2]}
    assert is_resolved(proxy)
    assert proxy["a"] == [1, 2]  # cached: no further read
    assert (reads.native, reads.sync) == (1, 0)


def test_large_bytes_load_on_the_loop(redis_store: Store, no_thread: None) -> None:
    payload = bytes(2 << 20)
    assert _run(_await(redis_store.proxy(payload))) == payload


def test_a_large_pickle_loads_in_a_thread(
    redis_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    used: list[Any] = []
    to_thread = asyncio.to_thread

    async def recording(func: Any, *args: Any) -> Any:
        used.append(func)
        return await to_thread(func, *args)

    monkeypatch.setattr(asyncio, "to_thread", recording)
    monkeypatch.setattr(resolving_module, "_executor", _refuse)
    big = list(range(300_000))  # over 1 MiB pickled
    assert _run(_await(redis_store.proxy(big))) == big
    assert len(used) == 1
    small = list(range(10))
    assert _run(_await(redis_store.proxy(small))) == small
    assert len(used) == 1


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a worker thread was used")


def test_evict_removes_the_object(redis_store: Store, no_thread: None) -> None:
    proxy = redis_store.proxy(b"once", evict=True)
    key = get_factory(proxy).key  # type: ignore[attr-defined]
    assert _run(_await(proxy)) == b"once"
    assert redis_store.connector.get(key) is None
    assert not redis_store.exists(key)


def test_a_digest_mismatch_is_typed(redis_store: Store, no_thread: None) -> None:
    key = redis_store.put([1, 2, 3])
    wrong = StoreFactory(key, redis_store.config(), digest=b"\0" * 32, store=redis_store)
    with pytest.raises(ProxyResolveError) as info:
        _run(_await(Proxy(wrong)))
    assert isinstance(info.value.cause, ContentDigestError)


def test_a_missing_key_is_typed(redis_store: Store, no_thread: None) -> None:
    key = redis_store.put("gone")
    redis_store.evict(key)
    proxy: Proxy[Any] = Proxy(StoreFactory(key, redis_store.config(), store=redis_store))
    with pytest.raises(ProxyResolveError) as info:
        _run(_await(proxy))
    assert isinstance(info.value.cause, ObjectMissingError)
    assert not is_resolved(proxy)


def test_a_sync_use_before_the_task_starts_takes_the_read_over(
    redis_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = CountingReads(redis_store, monkeypatch)
    proxy = redis_store.proxy([5, 6])

    async def body() -> Any:
        resolving = resolve_async(proxy)  # the task has not run yet
        assert proxy[0] == 5  # read synchronously, once
        return await resolving

    assert _run(body()) == [5, 6]
    assert (reads.native, reads.sync) == (0, 1)


def test_a_started_read_is_waited_for_elsewhere_and_refused_on_the_loop(
    redis_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = CountingReads(redis_store, monkeypatch)
    proxy = redis_store.proxy("shared")

    async def body() -> tuple[str, str]:
        reads.gate, reads.started = asyncio.Event(), asyncio.Event()
        resolving = resolve_async(proxy)
        await asyncio.wait_for(reads.started.wait(), 10)
        with pytest.raises(ProxyPendingError, match="await resolve_async"):
            proxy.upper()
        with pytest.raises(ProxyPendingError):
            resolving.result(timeout=1)
        # Looked up in the worker thread: ``proxy.upper`` here would resolve on the loop.
        other = asyncio.ensure_future(asyncio.to_thread(_upper, proxy))
        reads.gate.set()
        return await resolving, await asyncio.wait_for(other, 10)

    assert _run(body()) == ("shared", "SHARED")
    assert (reads.native, reads.sync) == (1, 0)


def test_cancelling_the_awaiter_keeps_the_read(
    redis_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = CountingReads(redis_store, monkeypatch)
    proxy = redis_store.proxy(7)

    async def body() -> Any:
        reads.gate, reads.started = asyncio.Event(), asyncio.Event()
        waiter = asyncio.ensure_future(_await(proxy))
        await asyncio.wait_for(reads.started.wait(), 10)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert not is_resolved(proxy)
        again = asyncio.ensure_future(_await(proxy))  # joins the same read
        reads.gate.set()
        return await asyncio.wait_for(again, 10)

    assert _run(body()) == 7
    assert is_resolved(proxy)
    assert proxy + 1 == 8
    assert (reads.native, reads.sync) == (1, 0)


def test_a_read_cancelled_with_its_loop_leaves_the_proxy_usable(
    redis_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = CountingReads(redis_store, monkeypatch)
    proxy = redis_store.proxy([9])

    async def body() -> None:
        reads.gate, reads.started = asyncio.Event(), asyncio.Event()
        resolve_async(proxy)  # never awaited: asyncio.run cancels the read at its end
        await asyncio.wait_for(reads.started.wait(), 10)

    _run(body())
    assert not is_resolved(proxy)
    assert proxy == [9]  # read again, synchronously, once
    assert (reads.native, reads.sync) == (1, 1)


def test_without_a_loop_it_reads_in_a_thread(
    redis_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = CountingReads(redis_store, monkeypatch)
    proxy = redis_store.proxy("bg")
    assert resolve_async(proxy).result(timeout=10) == "bg"
    assert reads.sync_threads[0].startswith("proxyflow-resolve")
    assert reads.native == 0


def test_a_file_store_still_reads_in_a_thread(tmp_path: Path) -> None:
    from proxyflow.connectors.file import FileConnector

    name = f"native-file-{uuid.uuid4().hex[:8]}"
    store = Store(name, FileConnector(str(tmp_path)))
    seen: list[str] = []
    get = store.connector.get

    def traced(key: Any, *, evict: bool = False) -> Any:
        seen.append(threading.current_thread().name)
        return get(key, evict=evict)

    store.connector.get = traced  # type: ignore[method-assign]
    try:
        assert _run(_await(store.proxy([1]))) == [1]
    finally:
        store.close()
        unregister_store(name)
    assert len(seen) == 1
    assert seen[0].startswith("proxyflow-resolve")


def _upper(proxy: Any) -> str:
    return str(proxy.upper())


async def _await(proxy: Proxy[Any]) -> Any:
    return await resolve_async(proxy)
