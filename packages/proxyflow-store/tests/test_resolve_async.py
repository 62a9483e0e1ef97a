"""resolve_async: resolving in a worker thread, cached like resolve."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from proxyflow.proxy import Proxy, ProxyResolveError, Resolving, is_resolved, resolve_async


class Recorder:
    """A factory that records the thread it ran on and how often it ran."""

    def __init__(self, value: Any = "target", gate: threading.Event | None = None) -> None:
        self.value = value
        self.threads: list[int] = []
        self.gate = gate

    def __call__(self) -> Any:
        self.threads.append(threading.get_ident())
        if self.gate is not None:
            assert self.gate.wait(10)
        return self.value


def test_awaiting_resolves_off_the_loop_and_caches() -> None:
    factory = Recorder([1, 2])
    proxy: Proxy[list[int]] = Proxy(factory)

    async def body() -> tuple[list[int], int]:
        target = await resolve_async(proxy)
        return target, threading.get_ident()

    target, loop_thread = asyncio.run(body())
    assert target == [1, 2]
    assert is_resolved(proxy)
    assert factory.threads
    assert factory.threads[0] != loop_thread
    assert proxy == [1, 2]
    assert len(factory.threads) == 1  # cached: later uses read nothing


def test_a_resolved_proxy_needs_no_thread() -> None:
    factory = Recorder()
    proxy: Proxy[str] = Proxy(factory)
    assert proxy.upper() == "TARGET"
    resolving = resolve_async(proxy)
    assert resolving.done()
    assert asyncio.run(asyncio.wait_for(resolving, 10)) == "target"
    assert len(factory.threads) == 1


def test_the_loop_runs_while_a_read_waits() -> None:
    gate = threading.Event()
    factory = Recorder("slow", gate)
    proxy: Proxy[str] = Proxy(factory)

    async def body() -> str:
        resolving = asyncio.ensure_future(_await(resolve_async(proxy)))
        # The loop is free: another coroutine runs and opens the gate.
        await asyncio.to_thread(gate.set)
        return await asyncio.wait_for(resolving, 10)

    assert asyncio.run(body()) == "slow"


async def _await(resolving: Resolving[Any]) -> Any:
    return await resolving


def test_without_await_it_starts_resolving_as_proxystore_does() -> None:
    factory = Recorder(42)
    proxy: Proxy[int] = Proxy(factory)
    resolving = resolve_async(proxy)  # synchronous code, no event loop
    assert resolving.result(timeout=10) == 42
    assert is_resolved(proxy)
    assert proxy + 1 == 43
    assert len(factory.threads) == 1


def test_errors() -> None:
    def broken() -> Any:
        raise KeyError("gone")

    proxy: Proxy[Any] = Proxy(broken)

    async def body() -> None:
        with pytest.raises(ProxyResolveError, match="gone"):
            await resolve_async(proxy)

    asyncio.run(asyncio.wait_for(body(), 10))
    assert not is_resolved(proxy)
    with pytest.raises(TypeError, match="expected a Proxy"):
        resolve_async([1])  # type: ignore[arg-type]
