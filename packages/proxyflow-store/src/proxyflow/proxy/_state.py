"""The state of a [`Proxy`][proxyflow.proxy.proxy.Proxy] and its one resolution.

A proxy keeps its factory, its target and a lock in instance slots, read and
written with ``object.__getattribute__`` / ``object.__setattr__`` so that they
never collide with the target's attributes. `_target` is the only place that
calls a factory: once, under the proxy's lock, wrapping any failure in
[`ProxyResolveError`][proxyflow.proxy.exceptions.ProxyResolveError]. The
forwarding mixins and the public helpers all resolve through it. `_Pending`
marks a native asyncio read in progress (``_native.py``), which `_target`
takes over or waits for, so a target is never read twice.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from proxyflow.proxy.exceptions import ProxyPendingError, ProxyResolveError

if TYPE_CHECKING:
    from proxyflow.proxy.proxy import Proxy

T = TypeVar("T")

# Instance slots of Proxy.
_FACTORY = "_pf_factory"
_TARGET = "_pf_target"
_RESOLVED = "_pf_resolved"
_LOCK = "_pf_lock"
_TOKEN = "_pf_token"
_PENDING = "_pf_pending"
_SLOTS = frozenset({_FACTORY, _TARGET, _RESOLVED, _LOCK, _TOKEN, _PENDING, "__weakref__"})

_get = object.__getattribute__
_set = object.__setattr__


class _Pending:
    """A native asyncio read of a proxy's target, started as a task on one event loop.

    Set in the proxy's ``_pf_pending`` slot (under its lock) by
    ``proxyflow.proxy._native``. Until the task ``started`` its read, a
    synchronous use of the proxy *takes it over* (``taken``): it reads under
    the lock as usual and the task then reads nothing. Once started, a
    synchronous use from another thread waits for ``done``; one from the
    loop's own thread cannot wait without stopping the read, and raises
    [`ProxyPendingError`][proxyflow.proxy.exceptions.ProxyPendingError].
    """

    __slots__ = ("done", "loop", "started", "taken", "task", "thread")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.thread = threading.get_ident()
        self.started = False
        self.taken = False
        self.task: asyncio.Task[Any] | None = None
        self.done = threading.Event()

    def wait(self) -> None:
        """Wait (on another thread than the loop's) until the read has finished.

        Raises:
            ProxyPendingError: On the loop's own thread.
        """
        if threading.get_ident() == self.thread:
            raise ProxyPendingError(
                "this proxy is being read by a task on this thread's event loop "
                "(resolve_async was called and its read has started): "
                "'await resolve_async(proxy)' before using the proxy here"
            )
        while not self.done.wait(_WAIT_SLICE):
            if self.loop.is_closed():  # the task will never finish: stop waiting for it
                return


_WAIT_SLICE = 0.1
"""Seconds between checks that the loop of a pending read still exists."""


def _resolve_error(factory: Any, exc: Exception) -> ProxyResolveError:
    """The error a proxy raises when its factory (or asyncio read) raised ``exc``."""
    return ProxyResolveError(
        f"the factory of a proxy failed: {factory!r}: {type(exc).__name__}: {exc}"
    )


def _target(proxy: Proxy[T]) -> T:
    """Return the proxy's target, calling the factory once if needed.

    A native asyncio read of the target that has not started yet is taken
    over (read here, under the lock); one that has started is waited for
    (see `_Pending`), never read a second time.
    """
    if _get(proxy, _RESOLVED):
        return _get(proxy, _TARGET)  # type: ignore[no-any-return]
    lock = _get(proxy, _LOCK)
    while True:
        with lock:
            if _get(proxy, _RESOLVED):
                break
            pending: _Pending | None = _get(proxy, _PENDING)
            if pending is None or not pending.started or pending.loop.is_closed():
                if pending is not None:
                    pending.taken = True
                    _set(proxy, _PENDING, None)
                _call_factory(proxy)
                break
        pending.wait()
    return _get(proxy, _TARGET)  # type: ignore[no-any-return]


def _call_factory(proxy: Proxy[Any]) -> None:
    """Call the factory and cache the target (the caller holds the proxy's lock)."""
    factory = _get(proxy, _FACTORY)
    try:
        target = factory()
    except ProxyResolveError:
        raise
    except Exception as exc:
        raise _resolve_error(factory, exc) from exc
    _set(proxy, _TARGET, target)
    _set(proxy, _RESOLVED, True)


_obj: Callable[[Any], Any] = _target
"""``_target`` typed as taking and returning ``Any``, for the forwarding mixins."""


def _rebind(proxy: Any, op: Callable[[Any, Any], Any], other: Any) -> None:
    """Apply an in-place operator and make its result the proxy's new target."""
    _set(proxy, _TARGET, op(_target(proxy), other))
