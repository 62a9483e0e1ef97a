"""Inline objects: deserializing the payload an event carries, as the type that was sent."""

from __future__ import annotations

from typing import Any

from proxyflow.serialize import DEFAULT_SERIALIZER, get_serializer
from proxyflow.stream.exceptions import EventDecodeError

__all__ = ["inline_object"]

_DEFAULT = DEFAULT_SERIALIZER
_default_deserializer = get_serializer(DEFAULT_SERIALIZER)[1]  # a reserved name: never replaced


def inline_object(serializer: str, payload: bytes | memoryview) -> Any:
    """Rebuild an inline object from its payload with the named serializer.

    A large message is decoded without copying its payload, which then is a
    ``memoryview`` of the message. Binary data that the serializer hands back
    as (a slice of) that view is copied once into ``bytes``: the view is how
    the message was read, not what was sent, and it would keep the whole
    message alive.

    Raises:
        EventDecodeError: If the serializer is unknown or cannot read the payload.
    """
    try:
        if serializer == _DEFAULT:
            obj = _default_deserializer(payload)
        else:
            obj = get_serializer(serializer)[1](payload)
    except Exception as exc:
        raise EventDecodeError(
            f"cannot deserialize inline object (serializer {serializer!r}): {exc}"
        ) from exc
    if type(obj) is memoryview and type(payload) is memoryview and obj.obj is payload.obj:
        return obj.tobytes()
    return obj
