"""Resolving a proxy without blocking an event loop: `resolve_async`.

Two paths, one result: the target cached in the proxy exactly as a
synchronous resolution caches it (read once), so later uses cost nothing.

* **Natively, on the loop**: called on a running loop for a proxy whose
  factory can read asynchronously (``__proxy_async__``: a store proxy whose
  connector has ``get_async``, i.e. Redis), the read is one task on that loop,
  with no thread (``_native.py``; a payload of 1 MiB or more is deserialized
  in a worker thread). The digest check, deserialization, eviction, cache and
  typed errors are those of the synchronous read (one home: the store's
  ``_read_begin``/``_read_end``).
* **In a thread**: any other factory (a file store, a plain callable), or a
  call without a running loop, runs in a worker thread of a small pool of
  proxyflow's own (threads named ``proxyflow-resolve``).

Without ``await`` it behaves as ProxyStore's ``resolve_async``: the read
starts in the background and a later synchronous use waits for it, never
reading twice. One case differs from ProxyStore: on the loop's own thread, a
synchronous use of a proxy whose native read has already started raises
[`ProxyPendingError`][proxyflow.proxy.exceptions.ProxyPendingError] instead of
waiting (which would stop the loop and so the read); before the read has
started, it simply reads synchronously and the task reads nothing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Generator
from typing import Any, Generic, TypeVar

from proxyflow.proxy import _native
from proxyflow.proxy._state import _target
from proxyflow.proxy.exceptions import ProxyPendingError
from proxyflow.proxy.proxy import Proxy, _check, is_resolved

__all__ = ["Resolving", "resolve_async"]

T = TypeVar("T")

_pools: list[concurrent.futures.ThreadPoolExecutor] = []  # the one pool, made on first use
_pool_lock = threading.Lock()


def _executor() -> concurrent.futures.ThreadPoolExecutor:
    with _pool_lock:
        if not _pools:
            _pools.append(
                concurrent.futures.ThreadPoolExecutor(thread_name_prefix="proxyflow-resolve")
            )
        return _pools[0]


async def _in_thread(proxy: Proxy[T]) -> T:
    """Resolve ``proxy`` in a worker thread of the pool and await its target."""
    return await asyncio.wrap_future(_executor().submit(_target, proxy))


class Resolving(Generic[T]):
    """A resolution already running (in a task of the loop, or a worker thread).

    Returned by [`resolve_async`][proxyflow.proxy.resolving.resolve_async].
    Awaiting it from a coroutine gives the target (or raises
    [`ProxyResolveError`][proxyflow.proxy.exceptions.ProxyResolveError]);
    synchronous code may ignore it (the resolution goes on, as ProxyStore's
    ``resolve_async`` starts one) or wait with `result`. Awaiting it twice
    gives the same target. Cancelling the awaiting task does not stop the
    read: the target is still cached in the proxy. A native read (a task)
    is awaited on the loop it started on.
    """

    __slots__ = ("_future",)

    def __init__(self, future: concurrent.futures.Future[T] | asyncio.Task[T]) -> None:
        self._future = future

    def __await__(self) -> Generator[Any, None, T]:
        future = self._future
        if isinstance(future, asyncio.Task):
            return asyncio.shield(future).__await__()
        return asyncio.wrap_future(future).__await__()

    def done(self) -> bool:
        """Whether the resolution has finished (successfully or not)."""
        return self._future.done()

    def result(self, timeout: float | None = None) -> T:
        """Block until the target is ready and return it (for synchronous code).

        Raises:
            ProxyResolveError: If the factory raised.
            ProxyPendingError: On the thread of the loop running a native read
                that has not finished (waiting there would stop it), or after
                that loop closed. From another thread, a native read finishes
                only while its loop runs: pass a ``timeout``.
            TimeoutError: If ``timeout`` seconds passed first.
        """
        future = self._future
        if isinstance(future, concurrent.futures.Future):
            return future.result(timeout)
        if not future.done():
            loop = future.get_loop()
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop or loop.is_closed():
                raise ProxyPendingError(
                    "Resolving.result() was called on the thread of the event loop that "
                    "reads the proxy, or after that loop closed: 'await' the Resolving "
                    "instead, or use the proxy itself"
                )
            wrapped = asyncio.run_coroutine_threadsafe(_wait(future), loop)
            wrapped.result(timeout)
        return future.result()

    def __repr__(self) -> str:
        return f"Resolving({'done' if self._future.done() else 'running'})"


async def _wait(task: asyncio.Task[Any]) -> None:
    """Wait on its own loop until ``task`` has finished (its outcome is read by the caller)."""
    await asyncio.wait([task])


def resolve_async(proxy: Proxy[T]) -> Resolving[T]:
    """Start resolving ``proxy`` off the event loop; await the result for its target.

    ``target = await resolve_async(proxy)`` resolves without blocking the
    event loop; the proxy is then resolved (and cached) as after
    [`resolve`][proxyflow.proxy.proxy.resolve], so using it afterwards costs
    no read. On a running loop, a proxy whose factory reads asynchronously
    (a Redis store proxy) is read by one task of that loop, with no thread;
    any other proxy is resolved in a worker thread. A proxy already resolved
    gives its target at once. Called without ``await`` it behaves as
    ProxyStore's ``resolve_async``: the read starts in the background, and
    the first use of the proxy waits for it (never reading twice; see the
    module docstring for the one case on the loop's own thread).

    Args:
        proxy: The proxy to resolve.

    Returns:
        An awaitable [`Resolving`][proxyflow.proxy.resolving.Resolving].

    Raises:
        TypeError: If ``proxy`` is not a [`Proxy`][proxyflow.proxy.proxy.Proxy].

    Examples:
        >>> import asyncio
        >>> from proxyflow.proxy import Proxy, is_resolved, resolve_async
        >>> p = Proxy(lambda: [1, 2, 3])
        >>> asyncio.run(asyncio.wait_for(resolve_async(p), 10))
        [1, 2, 3]
        >>> is_resolved(p)
        True
    """
    _check(proxy)
    if is_resolved(proxy):
        done: concurrent.futures.Future[T] = concurrent.futures.Future()
        done.set_result(_target(proxy))
        return Resolving(done)
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None and not _force_thread:
        read = _native.native_read(proxy)
        if read is not None:
            task = _native.start(proxy, loop, read, _in_thread)
            if task is not None:
                return Resolving(task)
    return Resolving(_executor().submit(_target, proxy))


_force_thread = False
"""Set by benchmarks and tests to measure the thread path against the native one."""
