"""How a store picks its serializer pair and runs it, with every failure a `SerializationError`."""

from __future__ import annotations

from typing import Any, NamedTuple

from proxyflow.api.exceptions import ProxyflowError
from proxyflow.api.protocols import BytesLike
from proxyflow.serialize import (
    CUSTOM_SERIALIZER,
    DEFAULT_SERIALIZER,
    Deserializer,
    SerializationError,
    Serializer,
    UnknownSerializerError,
    get_serializer,
    serializer_name,
)
from proxyflow.store.exceptions import StoreConfigError

__all__ = ["SerializerChoice", "choose_serializer", "dump", "load", "registered_name"]


class SerializerChoice(NamedTuple):
    """The serializer a store writes with and the deserializer it reads with."""

    name: str
    """The name recorded in the store's config (``"custom"`` for an unregistered callable)."""
    dumps: Serializer | None
    """The serializer; ``None`` when ``name`` is not registered in this process (read only)."""
    loads: Deserializer
    """The deserializer."""


def choose_serializer(
    serializer: str | Serializer | None, deserializer: Deserializer | None
) -> SerializerChoice:
    """Resolve a store's ``serializer=`` and ``deserializer=`` arguments.

    ``None`` is the default format; a ``str`` names a registered serializer; a
    callable is looked up in the registry to record its name (``"custom"``
    when it is not registered, which then needs ``deserializer``). A name that
    is not registered in this process is accepted when ``deserializer`` is
    given: the store can then read, and writes need an explicit serializer.

    Raises:
        StoreConfigError: If an unregistered callable comes without a deserializer.
        UnknownSerializerError: If a name is not registered and there is no deserializer.
        TypeError: If ``serializer`` is neither a str nor a callable.
    """
    if serializer is None:
        serializer = DEFAULT_SERIALIZER
    if isinstance(serializer, str):
        if serializer == CUSTOM_SERIALIZER and deserializer is None:
            raise UnknownSerializerError(
                "this store uses a custom (unregistered) serializer; pass deserializer= to "
                "read it in this process, or register the serializer under a name with "
                "register_serializer()"
            )
        try:
            dumps, loads = get_serializer(serializer)
        except UnknownSerializerError:
            if deserializer is None:
                raise
            return SerializerChoice(serializer, None, deserializer)
        return SerializerChoice(serializer, dumps, deserializer or loads)
    if not callable(serializer):
        raise TypeError(f"serializer must be a str or a callable, got {type(serializer).__name__}")
    name = serializer_name(serializer)
    if name is not None:
        return SerializerChoice(name, serializer, deserializer or get_serializer(name)[1])
    if deserializer is None:
        raise StoreConfigError(
            "an unregistered serializer callable needs deserializer= (and other processes "
            "must pass their own); or register it with register_serializer()"
        )
    return SerializerChoice(CUSTOM_SERIALIZER, serializer, deserializer)


def dump(dumps: Serializer, obj: Any) -> BytesLike:
    """Serialize ``obj`` with ``dumps``; failing or not giving bytes is a `SerializationError`."""
    try:
        data = dumps(obj)
    except ProxyflowError:
        raise
    except Exception as exc:
        raise SerializationError(
            f"the serializer {_name(dumps)} failed on an object of type "
            f"{type(obj).__qualname__}: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SerializationError(
            f"the serializer {_name(dumps)} returned {type(data).__name__}, "
            "not bytes, bytearray or memoryview"
        )
    return data


def load(loads: Deserializer, data: BytesLike) -> Any:
    """Deserialize ``data`` with ``loads``; any failure is a `SerializationError`."""
    try:
        return loads(data)
    except ProxyflowError:
        raise
    except Exception as exc:
        raise SerializationError(
            f"the deserializer {_name(loads)} failed: {type(exc).__name__}: {exc}"
        ) from exc


def registered_name(serializer: str | Serializer | None, own_name: str, what: str) -> str | None:
    """Return the name a proxy records for a per-call serializer (``None``: the store's own).

    Args:
        serializer: A registered name or serializer callable, or ``None``.
        own_name: The name of the store's own serializer.
        what: The calling method, for the error message.

    Raises:
        StoreConfigError: If ``serializer`` is an unregistered callable.
        UnknownSerializerError: If ``serializer`` is a name nobody registered.
    """
    if serializer is None:
        return None
    name = serializer if isinstance(serializer, str) else serializer_name(serializer)
    if name is None:
        raise StoreConfigError(
            f"{what} needs a registered serializer so that other processes can "
            "deserialize it; register it with register_serializer()"
        )
    if isinstance(serializer, str):
        get_serializer(name)  # an unknown name fails now, not when the proxy resolves
    return None if name == own_name else name


def _name(function: Any) -> str:
    return repr(getattr(function, "__qualname__", type(function).__qualname__))
