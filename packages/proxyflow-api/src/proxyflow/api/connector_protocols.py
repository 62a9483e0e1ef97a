"""The storage seam: what a connector promises.

A **connector** adapts one storage system to
[`Connector`][proxyflow.api.connector_protocols.Connector]; stores use the
optional [`CountingConnector`][proxyflow.api.connector_protocols.CountingConnector]
and [`VectoredConnector`][proxyflow.api.connector_protocols.VectoredConnector]
when a connector provides them, and read through
[`AsyncReadableConnector`][proxyflow.api.connector_protocols.AsyncReadableConnector]
on a running event loop when it offers that. Connectors satisfy these protocols
structurally. All of them are also importable from ``proxyflow.api`` and
``proxyflow.api.protocols``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, TypeAlias, runtime_checkable

from proxyflow.api.buffers import BytesLike

__all__ = [
    "AsyncReadableConnector",
    "Connector",
    "CountingConnector",
    "Key",
    "VectoredConnector",
]

Key: TypeAlias = Any
"""A connector key: small and JSON-serializable (``str`` for the built-in connectors)."""


@runtime_checkable
class Connector(Protocol):
    """Moves opaque bytes in and out of one storage system.

    Guarantees every connector gives (the contract suite in
    ``proxyflow-testing`` checks them):

    * **Keys** are small, JSON-serializable values (a ``str`` for the built-in
      connectors) created by the connector. ``put`` never overwrites another key.
    * **Visibility**: once ``put`` returns, ``get`` from any process that can
      reach the same storage returns the full bytes; a reader never sees a
      partial object.
    * **Missing keys**: ``get`` returns ``None`` and ``evict`` is a no-op;
      neither raises.
    * **Eviction on read**: ``get(key, evict=True)`` returns the bytes and
      removes them, in one round trip where the backend allows it.
    * **Batches are all or nothing**: when ``put_batch`` raises, none of its
      objects is left stored.
    * **Errors** are the classes of
      [`proxyflow.api.exceptions`][proxyflow.api.exceptions] (store full,
      object too large, authentication, unreachable...), never a backend
      library's own.
    * **Thread-safety**: one instance may be used from several threads at once.
    * **close()** releases clients, sockets and file handles. It never deletes
      data that other processes may still read, unless the caller explicitly
      asked for that when creating the connector. Calling it twice is allowed.
    * **config()** returns a JSON-serializable ``dict`` of options from which
      ``from_config`` rebuilds an equivalent connector in another process. It
      holds no secrets (passwords, tokens) and no destructive flags.

    Attributes:
        kind: The registered name of this connector class in the
            ``proxyflow.connectors`` entry-point group (``"file"``, ``"redis"``...).
    """

    kind: ClassVar[str]

    def put(self, data: BytesLike) -> Key:
        """Store ``data`` under a new key and return the key."""
        ...

    def put_batch(self, datas: Sequence[BytesLike]) -> Sequence[Key]:
        """Store several objects, in one round trip where possible; keys in order.

        All or nothing: if it raises, no object of the batch stays stored.
        """
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

        [`from_config`][proxyflow.api.connector_protocols.Connector.from_config]
        rebuilds it from them.
        """
        ...

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Connector:
        """Build a connector from its options.

        The options are the output of
        [`config`][proxyflow.api.connector_protocols.Connector.config].
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
    array's memory) to [`put_parts`][proxyflow.api.connector_protocols.VectoredConnector.put_parts]
    instead of first copying them into one buffer. The stored object is the
    concatenation of the pieces: ``get`` returns the same bytes as after
    ``put(b"".join(parts))``, with every guarantee of
    [`Connector.put`][proxyflow.api.connector_protocols.Connector.put] (a new key,
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


@runtime_checkable
class AsyncReadableConnector(Connector, Protocol):
    """A connector that can also read one object natively on a running asyncio loop.

    Optional: when a store-backed proxy is awaited (``await resolve_async(proxy)``)
    and its store's connector has
    [`get_async`][proxyflow.api.connector_protocols.AsyncReadableConnector.get_async],
    the read runs on the event loop instead of in a worker thread. Stores
    detect it structurally (``callable(getattr(connector, "get_async", None))``),
    so a connector need not import this protocol.

    Guarantees: the same as [`Connector.get`][proxyflow.api.connector_protocols.Connector.get]
    (same keys, same eviction in one round trip where the backend allows it,
    the same typed errors, the same timeouts and credentials, taken from the
    connector's own settings); the coroutine never blocks the loop for longer
    than a short CPU-bound step. It may be awaited from several event loops
    (one at a time each): whatever a client is bound to a loop for is kept per
    loop. ``close()`` releases what it can of those clients without blocking.

    Example:
        ```python
        if callable(getattr(connector, "get_async", None)):
            data = await connector.get_async(key, evict=True)
        ```
    """

    async def get_async(self, key: Key, *, evict: bool = False) -> BytesLike | None:
        """Return the bytes under ``key`` or ``None``; with ``evict`` also remove them.

        Raises:
            BackendError: A subclass saying what went wrong, as ``get`` raises.
        """
        ...
