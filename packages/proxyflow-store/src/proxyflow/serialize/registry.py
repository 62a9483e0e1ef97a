"""Named serializers, so that a store's format can be recorded in its config.

A serializer is registered under a short name together with the matching
deserializer. Stores record the *name* in their
[`StoreConfig`][proxyflow.store.StoreConfig], and a process that rebuilds the store
looks the pair up again by that name, so every process that reads the data
must have registered the same name (usually at import time of the module that
defines it).

``"default"`` is the tagged format of [`proxyflow.serialize.format`][proxyflow.serialize.format].
``"default"`` and ``"custom"`` are reserved (``"custom"`` marks an
unregistered callable in a config).

Examples:
    >>> import json
    >>> from proxyflow.serialize import get_serializer, register_serializer
    >>> register_serializer(
    ...     "json-doc", lambda o: json.dumps(o).encode(), lambda b: json.loads(bytes(b))
    ... )
    >>> dumps, loads = get_serializer("json-doc")
    >>> loads(dumps({"a": 1}))
    {'a': 1}
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeAlias

from proxyflow.api.protocols import BytesLike
from proxyflow.serialize.exceptions import SerializerExistsError, UnknownSerializerError
from proxyflow.serialize.format import deserialize, serialize

__all__ = [
    "CUSTOM_SERIALIZER",
    "DEFAULT_SERIALIZER",
    "Deserializer",
    "Serializer",
    "get_serializer",
    "register_serializer",
    "serializer_name",
]

Serializer: TypeAlias = Callable[[Any], BytesLike]
"""Turns an object into bytes (a [`BytesLike`][proxyflow.api.buffers.BytesLike]).

Raises [`SerializationError`][proxyflow.serialize.exceptions.SerializationError] when it cannot.
"""
Deserializer: TypeAlias = Callable[[BytesLike], Any]
"""Turns bytes made by the matching serializer back into an object.

See [`Serializer`][proxyflow.serialize.registry.Serializer].
"""

DEFAULT_SERIALIZER = "default"
"""Name of the built-in tagged serializer."""
CUSTOM_SERIALIZER = "custom"
"""Name recorded in a store config for a serializer callable that is not registered."""

_lock = threading.Lock()
_registry: dict[str, tuple[Serializer, Deserializer]] = {
    DEFAULT_SERIALIZER: (serialize, deserialize),
}


def register_serializer(
    name: str, serializer: Serializer, deserializer: Deserializer, *, overwrite: bool = False
) -> None:
    """Register a serializer/deserializer pair under ``name``.

    Registering the very same pair again is a no-op.

    Args:
        name: A short name to record in store configs.
        serializer: Callable turning an object into bytes.
        deserializer: Callable turning those bytes back into the object.
        overwrite: Replace a different pair already registered under ``name``.

    Raises:
        SerializerExistsError: If ``name`` is reserved (``"default"``,
            ``"custom"``) or taken by another pair and ``overwrite`` is false.
        TypeError: If ``name`` is not a non-empty ``str`` or a callable is not callable.
    """
    if not isinstance(name, str) or not name:
        raise TypeError("a serializer name must be a non-empty str")
    if not callable(serializer) or not callable(deserializer):
        raise TypeError("serializer and deserializer must be callable")
    if name in (DEFAULT_SERIALIZER, CUSTOM_SERIALIZER):
        raise SerializerExistsError(f"the serializer name {name!r} is reserved")
    with _lock:
        current = _registry.get(name)
        if current is not None and not overwrite and current != (serializer, deserializer):
            raise SerializerExistsError(
                f"a different serializer is already registered as {name!r}; "
                "pass overwrite=True to replace it"
            )
        _registry[name] = (serializer, deserializer)


def get_serializer(name: str) -> tuple[Serializer, Deserializer]:
    """Return the ``(serializer, deserializer)`` pair registered under ``name``.

    Args:
        name: A registered name, e.g.
            [`DEFAULT_SERIALIZER`][proxyflow.serialize.registry.DEFAULT_SERIALIZER].

    Returns:
        The pair of callables.

    Raises:
        UnknownSerializerError: If nothing is registered under ``name``.
    """
    with _lock:
        pair = _registry.get(name)
    if pair is None:
        raise UnknownSerializerError(
            f"no serializer registered as {name!r} (known: {', '.join(sorted(_registry))}); "
            "register it with proxyflow.serialize.register_serializer in this process"
        )
    return pair


def serializer_name(serializer: Serializer) -> str | None:
    """Return the name under which ``serializer`` is registered, or ``None``.

    Args:
        serializer: A serializer callable (compared with ``==``, so equal bound
            methods match).

    Returns:
        The registered name, or ``None`` when the callable is not registered.
    """
    with _lock:
        for name, (registered, _) in _registry.items():
            if registered == serializer:
                return name
    return None
