"""Tagged serialization with zero-copy out-of-band buffers, and named serializers.

* [`serialize`][proxyflow.serialize.format.serialize] /
  [`deserialize`][proxyflow.serialize.format.deserialize]: the default format (see
  [`proxyflow.serialize.format`][proxyflow.serialize.format] for the byte layout).
  Binary data passes through untouched, text is UTF-8, everything else is pickle
  protocol 5 with its large buffers laid after the stream (one copy on write, none
  on read).
* [`serialize_parts`][proxyflow.serialize.format.serialize_parts]: the same bytes
  as a list of pieces whose large buffers are views of the object (no copy), for
  vectored writes.
* [`register_serializer`][proxyflow.serialize.registry.register_serializer] /
  [`get_serializer`][proxyflow.serialize.registry.get_serializer] /
  [`serializer_name`][proxyflow.serialize.registry.serializer_name]: a
  process-wide table of named formats that stores record by name in their
  configs.

Examples:
    >>> from proxyflow.serialize import deserialize, serialize
    >>> deserialize(serialize("héllo"))
    'héllo'
"""

from __future__ import annotations

from proxyflow.serialize.exceptions import (
    SerializationError,
    SerializerExistsError,
    UnknownSerializerError,
)
from proxyflow.serialize.format import deserialize, serialize, serialize_parts
from proxyflow.serialize.registry import (
    CUSTOM_SERIALIZER,
    DEFAULT_SERIALIZER,
    Deserializer,
    Serializer,
    get_serializer,
    register_serializer,
    serializer_name,
)

__all__ = [
    "CUSTOM_SERIALIZER",
    "DEFAULT_SERIALIZER",
    "Deserializer",
    "SerializationError",
    "Serializer",
    "SerializerExistsError",
    "UnknownSerializerError",
    "deserialize",
    "get_serializer",
    "register_serializer",
    "serialize",
    "serialize_parts",
    "serializer_name",
]
