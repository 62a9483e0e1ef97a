"""Transparent lazy proxies.

A [`Proxy`][proxyflow.proxy.proxy.Proxy] stands for an object that a *factory*
produces on first use. It behaves like the object for almost every operation,
but ``repr``, ``isinstance`` (with a factory ``target_type``) and pickling never
resolve it.

Examples:
    >>> from proxyflow.proxy import Proxy, extract, is_resolved
    >>> p = Proxy(lambda: 40)
    >>> is_resolved(p)
    False
    >>> p + 2
    42
    >>> extract(p)
    40
"""

from __future__ import annotations

from proxyflow.proxy.exceptions import ProxyError, ProxyPendingError, ProxyResolveError
from proxyflow.proxy.factory import Factory
from proxyflow.proxy.proxy import Proxy, extract, get_factory, is_resolved, resolve
from proxyflow.proxy.resolving import Resolving, resolve_async

__all__ = [
    "Factory",
    "Proxy",
    "ProxyError",
    "ProxyPendingError",
    "ProxyResolveError",
    "Resolving",
    "extract",
    "get_factory",
    "is_resolved",
    "resolve",
    "resolve_async",
]
