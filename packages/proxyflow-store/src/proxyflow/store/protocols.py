"""The protocols a [`Store`][proxyflow.store.Store] consumes.

The connector protocols are defined once, in
[`proxyflow.api.connector_protocols`][proxyflow.api.connector_protocols] (in the
dependency-free package every connector may import), and re-exported here:

* [`Connector`][proxyflow.api.connector_protocols.Connector] moves opaque bytes in and out
  of one storage system, with the guarantees listed on it (new keys, atomic
  visibility, all-or-nothing batches, typed errors, ``close()`` keeps shared
  data, ``config()`` without secrets);
* [`CountingConnector`][proxyflow.api.connector_protocols.CountingConnector] adds
  ``stats()``;
* [`VectoredConnector`][proxyflow.api.connector_protocols.VectoredConnector] adds
  ``put_parts()``;
* [`BytesLike`][proxyflow.api.buffers.BytesLike] and
  [`Key`][proxyflow.api.connector_protocols.Key] are the types they exchange.

A connector never sees Python objects (the store serializes them) and does
not import ``proxyflow.store``. Connector classes are found by *kind* (a short
name such as ``"file"``) through the entry-point group ``proxyflow.connectors``.

This module also defines
[`StoreBackedFactory`][proxyflow.store.protocols.StoreBackedFactory], what
[`get_store`][proxyflow.store.registry.get_store] asks of a proxy's factory.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from proxyflow.api.protocols import BytesLike, Connector, CountingConnector, Key, VectoredConnector

__all__ = [
    "BytesLike",
    "Connector",
    "CountingConnector",
    "Key",
    "StoreBackedFactory",
    "VectoredConnector",
]


@runtime_checkable
class StoreBackedFactory(Protocol):
    """A proxy factory that reads its object from a store, and can name that store.

    [`StoreFactory`][proxyflow.store.factory.StoreFactory] satisfies it.
    """

    def get_store(self) -> Any:
        """Return the [`Store`][proxyflow.store.Store] the object is read from (reading nothing)."""
        ...
