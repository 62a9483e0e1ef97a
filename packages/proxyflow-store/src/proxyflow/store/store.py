"""The `Store`: objects in, keys and proxies out, over any connector.

The class is assembled from modules with one job each: this one builds a
store and holds the one-object paths (``put``, ``get``, ``exists``,
``evict``) and ``from_config``; ``_store_batch.py`` the batch paths;
``_store_proxies.py`` the proxy makers; ``_store_read.py`` what a one-object
read does around its connector call (shared by ``get`` and the asyncio read of
a store proxy); ``_store_core.py`` the shared state,
the metrics wrapper, the config and the lifecycle. Importing this module also
hands the store registry the function that builds a store from a config.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from typing import Any

from proxyflow.api.buffers import nbytes
from proxyflow.api.protocols import Connector, Key, VectoredConnector
from proxyflow.serialize import (
    Deserializer,
    Serializer,
    serialize,
    serialize_parts,
)
from proxyflow.store import registry
from proxyflow.store._serializers import choose_serializer, dump
from proxyflow.store._store_batch import StoreBatches
from proxyflow.store._store_digests import StoreDigests
from proxyflow.store._store_proxies import StoreProxies
from proxyflow.store._store_read import StoreReads
from proxyflow.store._writing import VECTORED_PUT_MIN_BYTES, put_pieces
from proxyflow.store.cache import LRUCache, cache_id
from proxyflow.store.config import StoreConfig
from proxyflow.store.connector_registry import connector_from_config
from proxyflow.store.exceptions import StoreConfigError
from proxyflow.store.factory import StoreFactory
from proxyflow.store.metrics import StoreMetrics

__all__ = ["VECTORED_PUT_MIN_BYTES", "Store"]


class Store(StoreProxies, StoreBatches, StoreDigests, StoreReads):
    """Puts Python objects into a connector and gets them (or lazy proxies) back.

    A store serializes objects (by default with
    [`proxyflow.serialize.serialize`][proxyflow.serialize.serialize]), hands the bytes to its
    [`Connector`][proxyflow.store.Connector] and returns the connector's keys. Reads
    are served from an LRU cache of deserialized objects when possible
    (connector keys are never reused, so a cached object can only be stale if
    it was evicted elsewhere). Store-backed proxies carry only the store's
    [`StoreConfig`][proxyflow.store.config.StoreConfig] and a key, so another
    process can resolve them.

    **Types come back as they were put**: ``bytes`` as ``bytes``, ``bytearray``
    as ``bytearray``, ``str`` as ``str``, a ``memoryview`` as ``bytes`` (a view
    cannot outlive the memory it shows), whatever the connector; other objects
    are pickled.

    When the connector is a [`VectoredConnector`][proxyflow.store.VectoredConnector] and the
    default serializer is used, a large pickled object (from
    [`VECTORED_PUT_MIN_BYTES`][proxyflow.store.store.VECTORED_PUT_MIN_BYTES]) is
    handed to ``put_parts`` as pieces (its header, pickle stream and out-of-band
    buffers, e.g. a numpy array's own memory), so it is written without first
    being copied into one buffer.

    Writes are all or nothing: when ``put_batch`` raises, none of its objects
    stays stored. Failures of the storage are the connector's typed errors
    (subclasses of [`proxyflow.api.exceptions`][proxyflow.api.exceptions]
    classes such as ``BackendFullError``), passed through unchanged.

    The store is thread-safe and a context manager.
    [`close`][proxyflow.store.store.Store.close] releases the connector but
    never deletes shared data; any operation afterwards raises
    [`StoreClosedError`][proxyflow.store.StoreClosedError].

    Serializer selection: ``None`` uses ``"default"``; a ``str`` names a
    registered serializer; a callable is looked up in the registry to record
    its name in [`config`][proxyflow.store.store.Store.config]. An
    *unregistered* callable is recorded as ``"custom"``: it needs
    ``deserializer=`` here, and every other process must pass its own
    ``deserializer=`` to [`from_config`][proxyflow.store.store.Store.from_config]
    / [`get_or_create_store`][proxyflow.store.get_or_create_store]. A name not
    registered in this process is accepted with a ``deserializer=``: the store
    then reads, and writes only with an explicit ``serializer=``.

    Args:
        name: The store name (unique among registered stores of a process).
        connector: Where the bytes go.
        serializer: Registered name or serializer callable.
        deserializer: Deserializer overriding the one registered with the serializer.
        cache_size: Entries in the cache of deserialized objects; ``0`` disables it.
        metrics: Record per-operation [`StoreMetrics`][proxyflow.store.StoreMetrics].
        register: Register the store under its name now (as
            [`register_store`][proxyflow.store.register_store] does); it leaves
            the registry when closed.

    Raises:
        StoreConfigError: If ``name`` or ``cache_size`` is invalid, or an
            unregistered serializer callable comes without a deserializer.
        UnknownSerializerError: If ``serializer`` names no registered
            serializer and no ``deserializer`` is given.
        StoreExistsError: If ``register`` is true and another store holds the name.

    Examples:
        >>> from proxyflow.connectors.local import LocalConnector  # doctest: +SKIP
        >>> from proxyflow.store import Store
        >>> with Store("demo", LocalConnector()) as store:  # doctest: +SKIP
        ...     key = store.put({"a": 1})
        ...     p = store.proxy([1, 2, 3])
        ...     store.get(key), sum(p)
        ({'a': 1}, 6)
    """

    def __init__(
        self,
        name: str,
        connector: Connector,
        *,
        serializer: str | Serializer | None = None,
        deserializer: Deserializer | None = None,
        cache_size: int = 16,
        metrics: bool = False,
        register: bool = False,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise StoreConfigError(f"a store name must be a non-empty str, got {name!r}")
        if not isinstance(cache_size, int) or isinstance(cache_size, bool) or cache_size < 0:
            raise StoreConfigError(f"cache_size must be an int >= 0, got {cache_size!r}")
        self._name = name
        self._connector = connector
        self._cache_size = cache_size
        self._cache = LRUCache(cache_size)
        self._metrics = StoreMetrics() if metrics else None
        self._closed = False
        self._ref = weakref.ref(self)
        self._lock = threading.Lock()
        self._config: StoreConfig | None = None
        choice = choose_serializer(serializer, deserializer)
        self._serializer_name = choice.name
        self._serializer = choice.dumps
        self._deserializer = choice.loads
        self._put_parts = (
            connector.put_parts
            if choice.dumps is serialize and isinstance(connector, VectoredConnector)
            else None
        )
        if register:
            registry.register_store(self)

    # -- writing and reading one object ------------------------------------------------------

    def put(self, obj: Any, *, serializer: str | Serializer | None = None) -> Key:
        """Serialize and store one object.

        Args:
            obj: The object.
            serializer: Registered name or callable for this call only (the
                reader must then pass the matching ``deserializer=``).

        Returns:
            The connector key of the object.

        Raises:
            StoreClosedError: If the store is closed.
            SerializationError: If ``obj`` cannot be serialized (nothing is stored).
            BackendError: A subclass such as ``BackendFullError`` or
                ``BackendUnavailableError``, from the connector (nothing is stored).
        """
        if self._closed:
            self._check_open()
        metrics = self._metrics
        start = self._clock()
        if serializer is None and self._put_parts is not None:
            parts = serialize_parts(obj)
            key = put_pieces(self._connector, self._put_parts, parts)
            size = sum(map(len, parts)) if metrics is not None else 0
        else:
            data = dump(self._pick_serializer(serializer), obj)
            key = self._connector.put(data)
            size = nbytes(data)
        if metrics is not None:
            metrics.hold(cache_id(key), size)
            self._record("put", start, nbytes=size)
        return key

    def get(
        self,
        key: Key,
        *,
        deserializer: str | Deserializer | None = None,
        default: Any = None,
        evict: bool = False,
    ) -> Any:
        """Return the object stored under ``key``.

        Args:
            key: A key returned by [`put`][proxyflow.store.store.Store.put].
            deserializer: Registered name or callable for this call only (the
                cache is then neither read nor filled).
            default: Returned when nothing is stored under ``key``.
            evict: Also remove the object from storage (one connector call)
                and from the cache.

        Returns:
            The object, or ``default``.

        Raises:
            StoreClosedError: If the store is closed.
            SerializationError: If the stored bytes cannot be deserialized.
            BackendError: A subclass such as ``BackendUnavailableError``, from the connector.
        """
        read = self._read_begin(key, deserializer, evict)
        if read.done:
            return read.value
        return self._read_end(read, self._connector.get(key, evict=evict), default)

    def exists(self, key: Key) -> bool:
        """Return whether storage holds an object under ``key`` (always asks the connector)."""
        self._check_open()
        start = self._clock()
        found = self._connector.exists(key)
        self._record("exists", start)
        return bool(found)

    def is_cached(self, key: Key) -> bool:
        """Return whether the object under ``key`` is in this process's cache (no storage read)."""
        return cache_id(key) in self._cache

    def evict(self, key: Key) -> None:
        """Remove the object under ``key`` from storage and from the cache (missing is fine)."""
        self._check_open()
        start = self._clock()
        self._connector.evict(key)
        self._forget(key)
        self._record("evict", start)

    # -- proxies, lifecycle ---------------------------------------------------------------------

    def _factory(
        self,
        key: Key,
        *,
        evict: bool,
        target_type: type | None,
        deserializer: str | None = None,
        digest: bytes | None = None,
    ) -> StoreFactory:
        return StoreFactory(
            key,
            self._config or self.config(),
            evict=evict,
            target_type=target_type,
            deserializer=deserializer,
            store=self,
            digest=digest,
        )

    def close(self) -> None:
        """Release the connector and leave the store registry.

        Data in storage is kept (other processes may still read it). Closing
        twice is allowed.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._cache.clear()
        registry.discard_store(self)
        self._connector.close()

    # -- configuration --------------------------------------------------------------------------

    @classmethod
    def from_config(
        cls,
        config: StoreConfig | Mapping[str, Any],
        *,
        deserializer: Deserializer | None = None,
    ) -> Store:
        """Build a new store (and connector) from a config.

        The connector class is found by kind through the
        ``proxyflow.connectors`` entry points. The store is not registered.

        Args:
            config: A [`StoreConfig`][proxyflow.store.config.StoreConfig] or its dict form.
            deserializer: Deserializer to use instead of the registered one;
                required when the config's serializer is ``"custom"`` or not
                registered in this process (the store can then read but not
                write without an explicit ``serializer=``).

        Returns:
            The new store.

        Raises:
            StoreConfigError: If the config is invalid.
            UnknownConnectorError: If the connector kind is not installed.
            UnknownSerializerError: If the serializer is unknown and no
                ``deserializer`` is given.
        """
        cfg = config if isinstance(config, StoreConfig) else StoreConfig.from_dict(config)
        choose_serializer(cfg.serializer, deserializer)  # fail before opening a connector
        connector = connector_from_config(cfg.connector, cfg.options)
        try:
            return cls(
                cfg.name,
                connector,
                serializer=cfg.serializer,
                deserializer=deserializer,
                cache_size=cfg.cache_size,
            )
        except BaseException:
            connector.close()
            raise


registry.use_store_builder(
    lambda config, deserializer: Store.from_config(config, deserializer=deserializer)
)
