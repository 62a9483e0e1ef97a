"""Errors raised by [`proxyflow.serialize`][proxyflow.serialize].

Hierarchy:

```text
proxyflow.api.ProxyflowError
 └── SerializationError          an object could not be (de)serialized
      ├── UnknownSerializerError no serializer registered under that name (also LookupError)
      └── SerializerExistsError  the name is taken (or reserved)
```

Errors raised by a pickler or by a malformed buffer are always wrapped in
[`SerializationError`][proxyflow.serialize.exceptions.SerializationError] with
the original exception as ``__cause__``.
"""

from __future__ import annotations

from proxyflow.api.exceptions import ProxyflowError

__all__ = ["SerializationError", "SerializerExistsError", "UnknownSerializerError"]


class SerializationError(ProxyflowError):
    """An object could not be serialized, or bytes could not be deserialized.

    Raised for unpicklable objects (lambdas, locks...) and for corrupt,
    truncated or unknown data. The underlying error, if any, is ``__cause__``.
    """


class UnknownSerializerError(SerializationError, LookupError):
    """No serializer is registered under the requested name."""


class SerializerExistsError(SerializationError):
    """A serializer name is already registered (or is reserved)."""
