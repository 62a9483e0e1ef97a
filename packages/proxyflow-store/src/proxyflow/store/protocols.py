"""The protocols a [`Store`][proxyflow.store.Store] consumes.

A connector moves opaque bytes in and out of one storage system. It never sees
Python objects (the store serializes them) and it does not import
``proxyflow.store``: it satisfies [`Connector`][proxyflow.store.protocols.Connector]
structurally. Connector classes are found by *kind* (a short name such as
``"file"``) through the entry-point group ``proxyflow.connectors``.

Guarantees every connector must give (the contract suite in
``proxyflow-testing`` checks them):

* **Keys** are small, JSON-serializable values (a ``str`` for the built-in
  connectors) created by the connector. ``put`` never overwrites another key.
* **Visibility**: once ``put`` returns, ``get`` from any process that can reach
  the same storage returns the full bytes; a reader never sees a partial object.
* **Missing keys**: ``get`` returns ``None`` and ``evict`` is a no-op; neither raises.
* **Eviction on read**: ``get(key, evict=True)`` returns the bytes and removes
  them, in one round trip where the backend allows it.
* **Thread-safety**: one instance may be used from several threads at once.
* **close()** releases clients, sockets and file handles. It never deletes data
  that other processes may still read, unless the caller explicitly asked for
  that when creating the connector. Calling it twice is allowed.
* **config()** returns a JSON-serializable ``dict`` of options from which
  ``from_config`` rebuilds an equivalent connector in another process. It holds
  no secrets (passwords, tokens) and no destructive flags.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, TypeAlias, runtime_checkable

__all__ = ["BytesLike", "Connector", "CountingConnector", "Key", "VectoredConnector"]

BytesLike: TypeAlias = bytes | bytearray | memoryview
"""Bytes a connector accepts and returns; memoryviews avoid copies of large objects."""

Key: TypeAlias = Any
"""A connector key: small and JSON-serializable (``str`` for the built-in connectors)."""


@runtime_checkable
class Connector(Protocol):
    """Moves opaque bytes in and out of one storage system.

    Attributes:
        kind: The registered name of this connector class in the
            ``proxyflow.connectors`` entry-point group (``"file"``, ``"redis"``...).
    """

    kind: ClassVar[str]

    def put(self, data: BytesLike) -> Key:
        """Store ``data`` under a new key and return the key."""
        ...

    def put_batch(self, datas: Sequence[BytesLike]) -> Sequence[Key]:
        """Store several objects, in one round trip where possible; keys in order."""
        ...

    def get(self, key: Key, *, evict: bool = False) -> BytesLike | None:
        """Return the bytes under ``key`` or ``None``; with ``evict`` also remove them."""
        ...

    def get_batch(self, keys: Sequence[Key], *, evict: bool = False) -> Sequence[BytesLike | None]:
        """Return the bytes of several keys (``None`` for missing ones), in order."""
        ...

    def exists(self, key: Key) -> bool:
        """Return whether ``key`` holds an object."""
        ...

    def evict(self, key: Key) -> None:
        """Remove the object under ``key``; a missing key is not an error."""
        ...

    def config(self) -> dict[str, Any]:
        """Return JSON-serializable options that describe this connector.

        [`from_config`][proxyflow.store.protocols.Connector.from_config] rebuilds it from them.
        """
        ...

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Connector:
        """Build a connector from its options.

        The options are the output of [`config`][proxyflow.store.protocols.Connector.config].
        """
        ...

    def close(self) -> None:
        """Release resources; never delete shared data unless asked at creation."""
        ...


@runtime_checkable
class CountingConnector(Connector, Protocol):
    """A connector that can say how much it holds (a seam for byte back-pressure).

    Optional: stores use it when a connector provides it.
    """

    def stats(self) -> dict[str, int]:
        """Return at least ``{"objects": n, "bytes": b}`` held by this connector's storage."""
        ...


@runtime_checkable
class VectoredConnector(Connector, Protocol):
    """A connector that stores an object given as several pieces, without joining them.

    Optional: a store with the default serializer hands large pickled objects
    (header, pickle stream, padding, out-of-band buffers such as a numpy
    array's memory) to [`put_parts`][proxyflow.store.protocols.VectoredConnector.put_parts]
    instead of first copying them into one buffer. The stored object is the
    concatenation of the pieces: ``get`` returns the same bytes as after
    ``put(b"".join(parts))``, with every guarantee of
    [`Connector.put`][proxyflow.store.protocols.Connector.put] (a new key,
    atomic visibility).

    Example:
        ```python
        if isinstance(connector, VectoredConnector):
            key = connector.put_parts([b"header", memoryview(array)])
        ```
    """

    def put_parts(self, parts: Sequence[BytesLike]) -> Key:
        """Store the concatenation of ``parts`` under a new key and return the key.

        The pieces may be views of memory the caller keeps using afterwards:
        they must be written (or copied) before this returns.
        """
        ...
