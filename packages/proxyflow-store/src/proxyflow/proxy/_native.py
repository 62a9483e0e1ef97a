"""Reading a proxy's target natively on the running event loop, in one task.

A factory that can read asynchronously says so with ``__proxy_async__()``
(see [`Factory`][proxyflow.proxy.factory.Factory]); a store factory whose
connector has ``get_async`` (Redis) does. `start` then creates ONE task on the
running loop that reads and caches the target, and marks the proxy with a
`_Pending` (under the proxy's lock) so that nothing reads it a second time:

* a second ``resolve_async`` on the same loop awaits the same task;
* a synchronous use before the task has started its read takes the read over
  (the task then reads nothing and returns the cached target);
* a synchronous use from another thread after the read started waits for it;
  on the loop's own thread it raises
  [`ProxyPendingError`][proxyflow.proxy.exceptions.ProxyPendingError];
* cancelling a task that awaits the read does not cancel the read (it is
  shielded); if the read task itself is cancelled (its loop is shutting down),
  the proxy is left unresolved and the next use reads again. An evicting read
  cancelled after its command reached the server may have removed the object.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from proxyflow.proxy._state import (
    _FACTORY,
    _LOCK,
    _PENDING,
    _RESOLVED,
    _TARGET,
    _get,
    _Pending,
    _resolve_error,
    _set,
)
from proxyflow.proxy.exceptions import ProxyResolveError
from proxyflow.proxy.proxy import Proxy

__all__ = ["native_read", "start"]

T = TypeVar("T")

ThreadPath = Callable[[Proxy[Any]], Awaitable[Any]]
"""Awaits ``_target(proxy)`` in a worker thread (the fallback of a race)."""


def native_read(proxy: Proxy[Any]) -> Callable[[], Awaitable[Any]] | None:
    """The factory's asyncio read, or ``None`` if it has none (or cannot tell)."""
    factory = _get(proxy, _FACTORY)
    hook = getattr(type(factory), "__proxy_async__", None)
    if hook is None:
        return None
    try:
        read: Callable[[], Awaitable[Any]] | None = hook(factory)
    except Exception:  # the thread path reports it, as a ProxyResolveError
        return None
    return read


def start(
    proxy: Proxy[T],
    loop: asyncio.AbstractEventLoop,
    read: Callable[[], Awaitable[T]],
    thread_path: ThreadPath,
) -> asyncio.Task[T] | None:
    """Start (or join) the one native read of ``proxy`` on ``loop``.

    Returns:
        The task that reads and caches the target, or ``None`` when a read
        by another loop is pending (the caller then waits in a thread).
    """
    with _get(proxy, _LOCK):
        pending: _Pending | None = _get(proxy, _PENDING)
        if pending is not None:
            return pending.task if pending.loop is loop else None
        pending = _Pending(loop)
        task: asyncio.Task[T] = loop.create_task(_read(proxy, pending, read, thread_path))
        pending.task = task
        _set(proxy, _PENDING, pending)
    task.add_done_callback(_retrieve)
    return task


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a failure as seen: an un-awaited ``resolve_async`` is not a leak to report."""
    if not task.cancelled():
        task.exception()


async def _read(
    proxy: Proxy[T],
    pending: _Pending,
    read: Callable[[], Awaitable[T]],
    thread_path: ThreadPath,
) -> T:
    lock = _get(proxy, _LOCK)
    if not lock.acquire(blocking=False):  # a synchronous read holds it: never block the loop
        return await thread_path(proxy)  # type: ignore[no-any-return]
    try:
        if _get(proxy, _RESOLVED) or pending.taken:
            taken = True
        else:
            taken = False
            pending.started = True
    finally:
        lock.release()
    if taken:  # read synchronously meanwhile (or failed there: read again, off the loop)
        return await thread_path(proxy)  # type: ignore[no-any-return]
    try:
        target = await read()
    except BaseException as exc:
        _finish(proxy, pending)
        if isinstance(exc, ProxyResolveError) or not isinstance(exc, Exception):
            raise
        raise _resolve_error(_get(proxy, _FACTORY), exc) from exc
    _finish(proxy, pending, target)
    return target


_NOTHING: Any = object()


def _finish(proxy: Proxy[Any], pending: _Pending, target: Any = _NOTHING) -> None:
    """Cache ``target`` (if read), clear the pending mark and wake waiting threads."""
    with _get(proxy, _LOCK):
        if target is not _NOTHING:
            _set(proxy, _TARGET, target)
            _set(proxy, _RESOLVED, True)
        if _get(proxy, _PENDING) is pending:
            _set(proxy, _PENDING, None)
    pending.done.set()
