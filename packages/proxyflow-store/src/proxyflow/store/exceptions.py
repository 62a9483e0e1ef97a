"""Errors raised by [`proxyflow.store`][proxyflow.store].

Hierarchy:

```text
proxyflow.api.ProxyflowError
 └── StoreError                    base of every store error
      ├── StoreClosedError         the store was closed (also RuntimeError)
      ├── ObjectMissingError       no object under a key (also KeyError)
      ├── StoreExistsError         a store name is taken by another instance
      ├── NotAStoreProxyError      a proxy whose factory reads no store (also TypeError)
      ├── ContentDigestError       stored bytes differ from their expected digest
      │                            (also ValueError)
      └── StoreConfigError         an invalid store config (also ValueError)
           └── UnknownConnectorError   no connector of that kind is installed
                                       (also LookupError)
```

Failures of the storage itself (full, unreachable, refused...) are the
connector's errors, subclasses of the
[`proxyflow.api.exceptions`][proxyflow.api.exceptions] classes such as
[`BackendFullError`][proxyflow.api.exceptions.BackendFullError]: a store lets
them through unchanged.

Serialization problems raise
[`proxyflow.serialize.SerializationError`][proxyflow.serialize.SerializationError]
and proxy resolution problems
[`proxyflow.proxy.ProxyResolveError`][proxyflow.proxy.ProxyResolveError].
"""

from __future__ import annotations

from typing import Any

from proxyflow.api.exceptions import ProxyflowError

__all__ = [
    "ContentDigestError",
    "NotAStoreProxyError",
    "ObjectMissingError",
    "StoreClosedError",
    "StoreConfigError",
    "StoreError",
    "StoreExistsError",
    "UnknownConnectorError",
]


class StoreError(ProxyflowError):
    """Base class of the errors raised by [`proxyflow.store`][proxyflow.store]."""


class StoreClosedError(StoreError, RuntimeError):
    """An operation was attempted on a closed [`Store`][proxyflow.store.Store]."""


class ObjectMissingError(StoreError, KeyError):
    """No object is stored under a key (it was never stored or was evicted).

    Raised when a store-backed proxy resolves; its proxy wraps it in
    [`ProxyResolveError`][proxyflow.proxy.ProxyResolveError].

    Args:
        key: The missing key.
        store_name: The name of the store that was asked.

    Attributes:
        key: The missing key.
        store_name: The name of the store that was asked.
    """

    def __init__(self, key: Any, store_name: str) -> None:
        super().__init__(key, store_name)
        self.key = key
        self.store_name = store_name

    def __str__(self) -> str:
        return f"no object under key {self.key!r} in store {self.store_name!r}"


class StoreExistsError(StoreError):
    """Another store instance is already registered under that name."""


class NotAStoreProxyError(StoreError, TypeError):
    """A proxy was given where a store-backed proxy is needed, but its factory reads no store.

    Raised by [`get_store`][proxyflow.store.registry.get_store] for a proxy
    whose factory is not a
    [`StoreBackedFactory`][proxyflow.store.protocols.StoreBackedFactory] (a
    plain ``Proxy(lambda: ...)``, say).
    """


class StoreConfigError(StoreError, ValueError):
    """A store configuration is invalid (unknown, missing or ill-typed fields)."""


class UnknownConnectorError(StoreConfigError, LookupError):
    """No connector class is installed for a connector kind.

    The message names the distribution to install.

    Args:
        kind: The connector kind that was asked for.
        message: The full explanation, including the install hint.

    Attributes:
        kind: The connector kind that was asked for.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind

    def __str__(self) -> str:
        return str(self.args[0])


class ContentDigestError(StoreError, ValueError):
    """Bytes read from storage do not match the content digest they were expected to have.

    Raised before the bytes are deserialized (see
    [`proxyflow.store.digest`][proxyflow.store.digest]), so nothing read from
    changed storage is unpickled. The object is not returned; when the read
    evicted it, it is gone.
    """
