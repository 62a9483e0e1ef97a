"""Container, iteration and context-manager forwarding for [`Proxy`][proxyflow.proxy.proxy.Proxy].

`_ContainerForwarding` is a slot-less mixin holding the special methods of
the container and iterator protocols, of (async) context managers and of
awaitables and async iterators, each forwarded to the target (resolving it
through ``proxyflow.proxy._state._target``, so the factory still runs once).
"""

from __future__ import annotations

import operator
from typing import Any

from proxyflow.proxy._state import _obj


class _ContainerForwarding:
    """Forward container, iteration, context-manager and async protocols to the target."""

    __slots__ = ()

    # -- containers and iteration ----------------------------------------------------------------

    def __len__(self) -> int:
        return len(_obj(self))

    def __length_hint__(self) -> int:
        return operator.length_hint(_obj(self))

    def __contains__(self, item: Any) -> bool:
        return item in _obj(self)

    def __getitem__(self, key: Any) -> Any:
        return _obj(self)[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        _obj(self)[key] = value

    def __delitem__(self, key: Any) -> None:
        del _obj(self)[key]

    def __iter__(self) -> Any:
        return iter(_obj(self))

    def __next__(self) -> Any:
        return next(_obj(self))

    def __reversed__(self) -> Any:
        return reversed(_obj(self))

    # -- context managers and async protocols -----------------------------------------------------

    def __enter__(self) -> Any:
        return _obj(self).__enter__()

    def __exit__(self, *exc_info: Any) -> Any:
        return _obj(self).__exit__(*exc_info)

    def __await__(self) -> Any:
        return _obj(self).__await__()

    def __aiter__(self) -> Any:
        return _obj(self).__aiter__()

    async def __anext__(self) -> Any:
        return await _obj(self).__anext__()

    async def __aenter__(self) -> Any:
        return await _obj(self).__aenter__()

    async def __aexit__(self, *exc_info: Any) -> Any:
        return await _obj(self).__aexit__(*exc_info)
