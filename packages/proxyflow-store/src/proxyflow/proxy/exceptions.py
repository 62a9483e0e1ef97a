"""Errors raised by [`proxyflow.proxy`][proxyflow.proxy].

Hierarchy:

```text
proxyflow.api.ProxyflowError
 └── ProxyError                 base of every proxy error
      ├── ProxyResolveError     the factory failed; ``__cause__`` holds why
      └── ProxyPendingError     used on the loop thread while its asyncio read runs
```
"""

from __future__ import annotations

from proxyflow.api.exceptions import ProxyflowError

__all__ = ["ProxyError", "ProxyPendingError", "ProxyResolveError"]


class ProxyError(ProxyflowError):
    """Base class of the errors raised by [`proxyflow.proxy`][proxyflow.proxy]."""


class ProxyResolveError(ProxyError):
    """A proxy's factory raised while resolving the target.

    The original exception is chained as ``__cause__`` and is also the
    [`cause`][proxyflow.proxy.exceptions.ProxyResolveError.cause] attribute, as
    in ProxyStore. A failed resolution is not cached: the next use of the proxy
    calls the factory again.

    Examples:
        >>> from proxyflow.proxy import Proxy, ProxyResolveError
        >>> p = Proxy(lambda: 1 / 0)
        >>> try:
        ...     p + 1
        ... except ProxyResolveError as exc:
        ...     type(exc.__cause__).__name__
        'ZeroDivisionError'
    """

    @property
    def cause(self) -> BaseException | None:
        """The exception the factory raised (the same as ``__cause__``)."""
        return self.__cause__


class ProxyPendingError(ProxyError):
    """A proxy was used synchronously on the thread whose event loop is reading it.

    ``resolve_async(proxy)`` on a running loop reads a store-backed proxy
    natively, in a task of that loop. Once that read has started, a
    synchronous use of the proxy on the loop's own thread cannot wait for it
    (waiting would stop the loop, and so the read): it raises this error
    instead. ``await resolve_async(proxy)`` first. Used before the read has
    started, the proxy is simply read synchronously (once); used from another
    thread, it waits. ProxyStore, which always reads in a thread, has no such case.
    """
