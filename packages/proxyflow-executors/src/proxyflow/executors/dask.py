"""Dask integration that needs no Dask import: the ``dask.sizeof`` plug-in for proxies.

Dask measures every value it holds with ``dask.sizeof.sizeof``; for an
object it does not know, it calls ``sys.getsizeof``. This module registers a
measure for [`Proxy`][proxyflow.proxy.Proxy] that never resolves it: an
unresolved proxy counts as the few hundred bytes it holds (its factory), a
resolved one as its target. Dask loads it lazily, through the ``dask.sizeof``
entry-point group that ``proxyflow-executors`` declares, the first time
``dask.sizeof`` is imported in a process (client, scheduler and workers alike).

Tokens come from ``Proxy.__dask_tokenize__`` (in ``proxyflow-store``), so
``dask.base.tokenize(proxy)`` does not resolve either.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from proxyflow.proxy import Proxy, extract, get_factory, is_resolved

__all__ = ["proxy_sizeof", "register_sizeof"]


def proxy_sizeof(proxy: Proxy[Any], measure: Callable[[Any], int] = sys.getsizeof) -> int:
    """Return the bytes a proxy holds in memory, without resolving it.

    Args:
        proxy: The proxy.
        measure: How to measure a resolved proxy's target (Dask passes its
            own ``sizeof``).

    Returns:
        The size of the proxy and its factory while unresolved; the
        target's size once resolved.
    """
    if is_resolved(proxy):
        return int(measure(extract(proxy)))
    return int(object.__sizeof__(proxy) + sys.getsizeof(get_factory(proxy)))


def register_sizeof(sizeof: Any) -> None:
    """Register [`proxy_sizeof`][proxyflow.executors.dask.proxy_sizeof] with Dask.

    This is the ``dask.sizeof`` entry point: Dask calls it with its
    ``sizeof`` dispatcher. Calling it again does no harm.

    Args:
        sizeof: ``dask.sizeof.sizeof``.
    """

    def _sizeof(proxy: Proxy[Any]) -> int:
        return proxy_sizeof(proxy, sizeof)

    sizeof.register(Proxy)(_sizeof)
