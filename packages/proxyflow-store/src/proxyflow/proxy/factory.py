"""The `Factory` protocol: what a [`Proxy`][proxyflow.proxy.Proxy] calls."""

from __future__ import annotations

from typing import Protocol, TypeVar

__all__ = ["Factory"]

T_co = TypeVar("T_co", covariant=True)


class Factory(Protocol[T_co]):
    """A zero-argument callable producing a proxy's target.

    Any callable works (a function, a lambda, a ``functools.partial``). A
    factory *may* also carry an attribute ``target_type`` (a type or ``None``):
    when present and not ``None``, an unresolved proxy reports it as its
    ``__class__``, so ``isinstance`` checks never resolve. Factories of proxies
    that travel between processes must be picklable and should be small; a
    factory class may also define ``__proxy_reduce__(self)`` returning a
    ``__reduce__`` tuple that rebuilds ``Proxy(self)`` in one step (store
    factories use it to keep proxy pickles under 200 bytes). A factory class
    may define ``__proxy_async__(self)`` returning a zero-argument coroutine
    function that produces the same target on the running event loop, or
    ``None`` when it cannot: [`resolve_async`][proxyflow.proxy.resolving.resolve_async]
    then reads natively instead of calling the factory in a worker thread
    (a store factory whose connector has ``get_async`` does).

    Examples:
        >>> class Answer:
        ...     target_type = int
        ...     def __call__(self) -> int:
        ...         return 42
        >>> from proxyflow.proxy import Proxy, is_resolved
        >>> p = Proxy(Answer())
        >>> isinstance(p, int), is_resolved(p)
        (True, False)
    """

    def __call__(self) -> T_co:
        """Produce the target object."""
        ...
