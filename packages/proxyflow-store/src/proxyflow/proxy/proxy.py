"""The transparent lazy [`Proxy`][proxyflow.proxy.proxy.Proxy].

A proxy wraps a zero-argument *factory*. The first operation that needs the
real object (the *target*) calls the factory exactly once, under a per-proxy
lock, and every later operation is forwarded to the cached target. Three
operations never resolve:

* ``repr(proxy)`` while unresolved (it shows the factory instead);
* ``proxy.__class__`` / ``isinstance(proxy, T)`` when the factory carries a
  ``target_type`` attribute that is a type;
* pickling: a proxy pickles as ``Proxy(factory)``, never as its target;
* Dask's hooks: ``__dask_tokenize__`` answers from the factory, and no other
  ``__dask_*`` attribute is forwarded (to Dask a proxy is a plain value).

The class is written in plain Python rather than on top of a wrapper library
so that these three behaviours, and the wrapping of factory errors in
[`ProxyResolveError`][proxyflow.proxy.exceptions.ProxyResolveError], are fully under our
control. This module holds the proxy's own behaviour (identity, attributes,
pickling, Dask tokens, ``repr``, calls) and the public helpers; the slots and
the single resolution live in ``_state``, and the operators and the
container, iteration, context-manager and async protocols are forwarded by
the mixins in ``_operators`` and ``_containers``.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from proxyflow.proxy._containers import _ContainerForwarding
from proxyflow.proxy._operators import _OperatorForwarding
from proxyflow.proxy._state import (
    _FACTORY,
    _LOCK,
    _PENDING,
    _RESOLVED,
    _SLOTS,
    _TARGET,
    _TOKEN,
    _get,
    _obj,
    _set,
    _target,
)

__all__ = ["Proxy", "extract", "get_factory", "is_resolved", "resolve"]

T = TypeVar("T")

# Names answered by the proxy itself rather than by the target.
_OWN = _SLOTS | {"__reduce__", "__reduce_ex__", "__dask_tokenize__"}
# Attributes Dask looks up to recognise its own objects: never forwarded.
_DASK_PREFIX = "__dask_"
_TOKEN_LOCK = threading.Lock()


def _check(proxy: Any) -> None:
    if not issubclass(type(proxy), Proxy):
        raise TypeError(f"expected a Proxy, got {type(proxy).__name__}")


class Proxy(_OperatorForwarding, _ContainerForwarding, Generic[T]):
    """A transparent lazy proxy of the object that ``factory()`` returns.

    The factory is called at most once, on the first operation that needs the
    target, even when several threads use the proxy at the same moment. After
    that the proxy forwards every operation to the target: attribute access,
    arithmetic (including reflected and in-place operators), comparisons,
    hashing, containers, iteration, calls, (async) context managers, awaiting,
    ``os.fspath``, ``operator.index``, conversions, ``format`` and ``dir``.

    ``repr()`` never resolves. ``isinstance(proxy, T)`` works through
    ``__class__``, which is the target's class; while unresolved it is the
    factory's ``target_type`` attribute when that is a type (no resolution).
    Pickling a proxy pickles only its factory. A factory class may define
    ``__proxy_reduce__(self)`` returning a ``__reduce__`` tuple that rebuilds
    the *whole proxy* (``Proxy(factory)``), to make proxy pickles smaller.

    In-place operators rebind the target (``p += 1`` on a proxy of ``1`` makes
    the target ``2`` and ``p`` stays a proxy). The factory is unchanged, so a
    copy or pickle of the proxy still resolves to what the factory returns.

    If the factory raises, the operation raises
    [`ProxyResolveError`][proxyflow.proxy.exceptions.ProxyResolveError] chained to the
    original error, and the next operation tries the factory again.

    Args:
        factory: A zero-argument callable returning the target. It must be
            picklable if the proxy is to be pickled.

    Examples:
        >>> from proxyflow.proxy import Proxy, is_resolved
        >>> p = Proxy(lambda: [1, 2, 3])
        >>> is_resolved(p)
        False
        >>> len(p), p[0], isinstance(p, list)
        (3, 1, True)
        >>> is_resolved(p)
        True
    """

    __slots__ = (
        "__weakref__",
        "_pf_factory",
        "_pf_lock",
        "_pf_pending",
        "_pf_resolved",
        "_pf_target",
        "_pf_token",
    )

    def __init__(self, factory: Callable[[], T]) -> None:
        if not callable(factory):
            raise TypeError(f"a Proxy factory must be callable, got {type(factory).__name__}")
        _set(self, _FACTORY, factory)
        _set(self, _TARGET, None)
        _set(self, _RESOLVED, False)
        _set(self, _LOCK, threading.Lock())
        _set(self, _PENDING, None)

    # -- identity, attributes, pickling ---------------------------------------------------------

    def __getattribute__(self, name: str) -> Any:
        if name in _OWN:
            return _get(self, name)
        if name == "__class__":
            if not _get(self, _RESOLVED):
                target_type = getattr(_get(self, _FACTORY), "target_type", None)
                if isinstance(target_type, type):
                    return target_type
            return _obj(self).__class__
        if name[:1] == "_" and name.startswith(_DASK_PREFIX):
            raise AttributeError(f"a Proxy does not forward Dask's attribute {name!r}")
        return getattr(_obj(self), name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SLOTS:
            _set(self, name, value)
        elif name == "__orig_class__":
            # typing sets this on instances created as Proxy[int](...); keep it
            # off the target (and do not resolve for it).
            return
        else:
            setattr(_obj(self), name, value)

    def __delattr__(self, name: str) -> None:
        if name in _SLOTS:
            raise AttributeError(f"cannot delete the proxy's own attribute {name!r}")
        delattr(_obj(self), name)

    def __reduce__(self) -> tuple[Any, ...]:
        factory = _get(self, _FACTORY)
        hook = getattr(type(factory), "__proxy_reduce__", None)
        if hook is not None:
            return hook(factory)  # type: ignore[no-any-return]
        return (Proxy, (factory,))

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return self.__reduce__()

    def __dask_tokenize__(self) -> tuple[str, Any]:
        """Return Dask's token of this proxy without resolving it.

        A factory that defines ``__dask_tokenize__`` (a store factory: its
        store config, key and evict flag) gives the token, so two proxies of
        one stored object share it; any other proxy gets a random token, drawn
        once and kept for the proxy's life. Dask itself is not imported.
        """
        factory = _get(self, _FACTORY)
        hook = getattr(type(factory), "__dask_tokenize__", None)
        if hook is not None:
            return ("proxyflow.proxy.Proxy", hook(factory))
        with _TOKEN_LOCK:
            try:
                token: str = _get(self, _TOKEN)
            except AttributeError:
                token = uuid.uuid4().hex
                _set(self, _TOKEN, token)
        return ("proxyflow.proxy.Proxy", token)

    def __repr__(self) -> str:
        if _get(self, _RESOLVED):
            return f"<Proxy resolved={_get(self, _TARGET)!r}>"
        return f"<Proxy unresolved factory={_get(self, _FACTORY)!r}>"

    def __str__(self) -> str:
        return str(_obj(self))

    def __bytes__(self) -> bytes:
        return bytes(_obj(self))

    def __format__(self, format_spec: str) -> str:
        return format(_obj(self), format_spec)

    def __dir__(self) -> list[str]:
        return dir(_obj(self))

    def __instancecheck__(self, instance: Any) -> bool:
        return isinstance(instance, _obj(self))

    def __subclasscheck__(self, subclass: Any) -> bool:
        return issubclass(subclass, _obj(self))

    # -- calls ----------------------------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the target with the given arguments."""
        return _obj(self)(*args, **kwargs)


# Pickles name the class by its public path (a few bytes shorter on the wire).
Proxy.__module__ = "proxyflow.proxy"


def is_resolved(proxy: Proxy[Any]) -> bool:
    """Return whether the proxy's factory has already produced its target.

    Never resolves the proxy.

    Args:
        proxy: The proxy to inspect.

    Returns:
        ``True`` once the target is cached.

    Raises:
        TypeError: If ``proxy`` is not a [`Proxy`][proxyflow.proxy.proxy.Proxy].
    """
    _check(proxy)
    return bool(_get(proxy, _RESOLVED))


def resolve(proxy: Proxy[Any]) -> None:
    """Force the proxy to resolve now (a no-op when already resolved).

    Args:
        proxy: The proxy to resolve.

    Raises:
        TypeError: If ``proxy`` is not a [`Proxy`][proxyflow.proxy.proxy.Proxy].
        ProxyResolveError: If the factory raises.
    """
    _check(proxy)
    _target(proxy)


def extract(proxy: Proxy[T]) -> T:
    """Return the proxy's target (the real object), resolving it if needed.

    Args:
        proxy: The proxy to unwrap.

    Returns:
        The target object itself, not a copy.

    Raises:
        TypeError: If ``proxy`` is not a [`Proxy`][proxyflow.proxy.proxy.Proxy].
        ProxyResolveError: If the factory raises.

    Examples:
        >>> from proxyflow.proxy import Proxy, extract
        >>> type(extract(Proxy(lambda: {"a": 1})))
        <class 'dict'>
    """
    _check(proxy)
    return _target(proxy)


def get_factory(proxy: Proxy[T]) -> Callable[[], T]:
    """Return the factory of a proxy without resolving it.

    Args:
        proxy: The proxy to inspect.

    Returns:
        The callable the proxy was built with.

    Raises:
        TypeError: If ``proxy`` is not a [`Proxy`][proxyflow.proxy.proxy.Proxy].
    """
    _check(proxy)
    factory: Callable[[], T] = _get(proxy, _FACTORY)
    return factory
