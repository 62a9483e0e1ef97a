"""The `Store`: objects in, keys and proxies out, over any connector."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, TypeVar

from proxyflow.api.buffers import nbytes
from proxyflow.api.closing import Closeable
from proxyflow.api.protocols import BytesLike, Connector, Key, VectoredConnector
from proxyflow.proxy import Proxy
from proxyflow.serialize import (
    Deserializer,
    Serializer,
    deserialize,
    get_serializer,
    serialize,
    serialize_parts,
)
from proxyflow.store import registry
from proxyflow.store._reading import read_batch
from proxyflow.store._serializers import choose_serializer, dump, load, registered_name
from proxyflow.store._writing import VECTORED_PUT_MIN_BYTES, put_pieces, put_pieces_batch
from proxyflow.store.cache import LRUCache, cache_id
from proxyflow.store.config import StoreConfig
from proxyflow.store.connector_registry import connector_from_config
from proxyflow.store.exceptions import StoreClosedError, StoreConfigError
from proxyflow.store.factory import StoreFactory, reported_type
from proxyflow.store.metrics import StoreMetrics

__all__ = ["VECTORED_PUT_MIN_BYTES", "Store"]

T = TypeVar("T")
_S = TypeVar("_S", bound="Store")


class Store(Closeable):
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

    # -- properties ---------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The store name."""
        return self._name

    @property
    def connector(self) -> Connector:
        """The connector that holds the bytes."""
        return self._connector

    @property
    def closed(self) -> bool:
        """Whether [`close`][proxyflow.store.store.Store.close] was called."""
        return self._closed

    @property
    def metrics(self) -> StoreMetrics | None:
        """The metrics of this instance, or ``None`` when not enabled."""
        return self._metrics

    @property
    def serializer(self) -> Serializer | None:
        """The serializer objects are written with (``None``: not registered here, read only)."""
        return self._serializer

    @property
    def deserializer(self) -> Deserializer:
        """The deserializer objects are read with."""
        return self._deserializer

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        kind = getattr(self._connector, "kind", "?")
        return f"Store({self._name!r}, connector={kind!r}, {state})"

    # -- helpers ------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"store {self._name!r} is closed")

    def _pick_serializer(self, serializer: str | Serializer | None) -> Serializer:
        if serializer is None:
            if self._serializer is None:
                raise StoreConfigError(
                    f"store {self._name!r} names the serializer {self._serializer_name!r}, "
                    "which is not registered in this process: register it, or pass "
                    "serializer= to write"
                )
            return self._serializer
        if isinstance(serializer, str):
            return get_serializer(serializer)[0]
        return serializer

    def _pick_deserializer(self, deserializer: str | Deserializer | None) -> Deserializer:
        if deserializer is None:
            return self._deserializer
        if isinstance(deserializer, str):
            return get_serializer(deserializer)[1]
        return deserializer

    def _load(self, loads: Deserializer, data: BytesLike) -> Any:
        # The default format raises SerializationError itself: call it directly.
        return loads(data) if loads is deserialize else load(loads, data)

    def _clock(self) -> float:
        """Return the start time of an operation, or ``0.0`` without metrics (no clock read)."""
        return time.perf_counter() if self._metrics is not None else 0.0

    def _record(self, op: str, start: float, *, objects: int = 1, nbytes: int = 0) -> None:
        if self._metrics is not None:
            self._metrics.record(
                op, objects=objects, nbytes=nbytes, seconds=time.perf_counter() - start
            )

    def _forget(self, key: Key) -> Hashable:
        cid = cache_id(key)
        self._cache.pop(cid)
        if self._metrics is not None:
            self._metrics.release(cid)
        return cid

    # -- writing ------------------------------------------------------------------------------

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

    def put_batch(
        self, objs: Sequence[Any], *, serializer: str | Serializer | None = None
    ) -> list[Key]:
        """Serialize several objects and store them, all or nothing.

        Every object is serialized before anything is stored, so a bad object
        stores nothing; if storing fails part way, the objects already stored
        by this call are evicted before the error propagates.

        Args:
            objs: The objects.
            serializer: Registered name or callable for this call only.

        Returns:
            The keys, in the order of ``objs``.

        Raises:
            StoreClosedError: If the store is closed.
            SerializationError: If an object cannot be serialized.
            BackendError: A subclass such as ``BackendFullError``, from the
                connector. If an object could not be evicted afterwards, its
                key is listed in the error's ``leftover_keys``.
        """
        self._check_open()
        metrics = self._metrics
        start = self._clock()
        if serializer is None and self._put_parts is not None:
            written = put_pieces_batch(
                self._connector, self._put_parts, [serialize_parts(obj) for obj in objs]
            )
            keys, sizes = written.keys, written.sizes
        else:
            dumps = self._pick_serializer(serializer)
            datas = [dump(dumps, obj) for obj in objs]
            keys = list(self._connector.put_batch(datas)) if datas else []
            sizes = [nbytes(d) for d in datas]
        if metrics is not None:
            for key, size in zip(keys, sizes, strict=True):
                metrics.hold(cache_id(key), size)
            self._record("put_batch", start, objects=len(sizes), nbytes=sum(sizes))
        return keys

    # -- reading ------------------------------------------------------------------------------

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
        if self._closed:
            self._check_open()
        metrics = self._metrics
        start = self._clock()
        use_cache = deserializer is None
        loads = self._deserializer if use_cache else self._pick_deserializer(deserializer)
        cache = self._cache
        cid = cache_id(key)
        if evict:
            hit, cached = cache.pop(cid)
            data = self._connector.get(key, evict=True)
            cache.pop(cid)  # a concurrent non-evicting get may have cached it meanwhile
            if metrics is not None:
                metrics.release(cid)
            if data is None:
                self._record("get", start)
                return default
            value = cached if hit and use_cache else self._load(loads, data)
            if metrics is not None:
                self._record("get", start, nbytes=nbytes(data))
            return value
        if use_cache:
            hit, value = cache.get(cid)
            if metrics is not None:
                metrics.cache(hit=hit)
            if hit:
                self._record("get", start)
                return value
        data = self._connector.get(key)
        if data is None:
            self._record("get", start)
            return default
        value = self._load(loads, data)
        if use_cache:
            cache.put(cid, value)
        if metrics is not None:
            self._record("get", start, nbytes=nbytes(data))
        return value

    def get_batch(
        self,
        keys: Sequence[Key],
        *,
        default: Any = None,
        evict: bool = False,
        return_exceptions: bool = False,
    ) -> list[Any]:
        """Return the objects under several keys, fetching misses in one connector call.

        Args:
            keys: Keys returned by [`put`][proxyflow.store.store.Store.put] or
                [`put_batch`][proxyflow.store.store.Store.put_batch].
            default: Returned in place of each missing object.
            evict: Also remove the objects from storage and from the cache.
            return_exceptions: Put the ``SerializationError`` of an object that
                cannot be deserialized in its place instead of raising. With
                ``evict=True`` this is how a caller keeps the batch's other
                objects: raising would lose them, since they were already evicted.

        Returns:
            The objects (or ``default``, or an exception), in the order of ``keys``.

        Raises:
            StoreClosedError: If the store is closed.
            SerializationError: If stored bytes cannot be deserialized and
                ``return_exceptions`` is false.
            BackendError: A subclass such as ``BackendUnavailableError``, from the connector.
        """
        self._check_open()
        start = self._clock()
        read = read_batch(
            self._connector,
            self._cache,
            lambda data: self._load(self._deserializer, data),
            keys,
            default=default,
            evict=evict,
            return_exceptions=return_exceptions,
            metrics=self._metrics,
        )
        self._record("get_batch", start, objects=len(read.values), nbytes=read.nbytes)
        return read.values

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

    # -- proxies ------------------------------------------------------------------------------

    def _factory(
        self, key: Key, *, evict: bool, target_type: type | None, deserializer: str | None = None
    ) -> StoreFactory:
        return StoreFactory(
            key,
            self._config or self.config(),
            evict=evict,
            target_type=target_type,
            deserializer=deserializer,
            store=self,
        )

    def proxy(
        self, obj: T, *, evict: bool = False, serializer: str | Serializer | None = None
    ) -> Proxy[T]:
        """Store ``obj`` now and return a lazy proxy of it.

        The proxy reports the type the object comes back as (``type(obj)``,
        or ``bytes`` for a ``memoryview``) to ``isinstance`` without resolving,
        and pickles to a few hundred bytes at most (the store config and key).

        Args:
            obj: The object.
            evict: Remove the object from storage when the proxy resolves
                (for objects read exactly once).
            serializer: A *registered* serializer (name or callable) for this
                object, so that any process can read it back.

        Returns:
            A proxy resolving to (a copy of) ``obj``.

        Raises:
            StoreClosedError: If the store is closed.
            SerializationError: If ``obj`` cannot be serialized.
            StoreConfigError: If ``serializer`` is an unregistered callable.
            BackendError: A subclass such as ``BackendFullError``, from the connector.
        """
        name = registered_name(serializer, self._serializer_name, "proxy()")
        key = self.put(obj, serializer=serializer)
        return Proxy(
            self._factory(key, evict=evict, target_type=reported_type(obj), deserializer=name)
        )

    def proxy_batch(
        self,
        objs: Sequence[Any],
        *,
        evict: bool = False,
        serializer: str | Serializer | None = None,
    ) -> list[Proxy[Any]]:
        """Store several objects, all or nothing, and return a proxy of each.

        Args:
            objs: The objects.
            evict: Remove each object from storage when its proxy resolves.
            serializer: A *registered* serializer (name or callable) for these objects.

        Returns:
            Proxies in the order of ``objs``.

        Raises:
            StoreClosedError: If the store is closed.
            SerializationError: If an object cannot be serialized (nothing is stored).
            StoreConfigError: If ``serializer`` is an unregistered callable.
            BackendError: A subclass such as ``BackendFullError``, from the
                connector (nothing is stored).
        """
        name = registered_name(serializer, self._serializer_name, "proxy_batch()")
        keys = self.put_batch(objs, serializer=serializer)
        return [
            Proxy(
                self._factory(key, evict=evict, target_type=reported_type(obj), deserializer=name)
            )
            for key, obj in zip(keys, objs, strict=True)
        ]

    def proxy_from_key(
        self,
        key: Key,
        *,
        evict: bool = False,
        target_type: type | None = None,
        deserializer: str | None = None,
    ) -> Proxy[Any]:
        """Return a lazy proxy of an object already stored under ``key``.

        Args:
            key: A key of this store.
            evict: Remove the object from storage when the proxy resolves.
            target_type: The object's type, if known, for ``isinstance``
                checks that do not resolve.
            deserializer: The name of a registered serializer to read the
                object with, when it was not written with the store's own.

        Returns:
            A proxy; if the key holds nothing when it resolves, it raises
            [`ProxyResolveError`][proxyflow.proxy.ProxyResolveError] caused by
            [`ObjectMissingError`][proxyflow.store.ObjectMissingError].

        Raises:
            StoreClosedError: If the store is closed.
            StoreConfigError: If ``deserializer`` is not registered.
        """
        if self._closed:
            self._check_open()
        name = registered_name(deserializer, self._serializer_name, "proxy_from_key()")
        return Proxy(self._factory(key, evict=evict, target_type=target_type, deserializer=name))

    # -- configuration --------------------------------------------------------------------------

    def config(self) -> StoreConfig:
        """Return the config that rebuilds this store elsewhere (computed once).

        Returns:
            The store's [`StoreConfig`][proxyflow.store.config.StoreConfig].

        Raises:
            StoreClosedError: If the store is closed.
            StoreConfigError: If the connector's options are not JSON-serializable.
        """
        config = self._config
        if config is not None:
            return config
        self._check_open()
        with self._lock:
            if self._config is None:
                self._config = StoreConfig(
                    name=self._name,
                    connector=self._connector.kind,
                    options=self._connector.config(),
                    serializer=self._serializer_name,
                    cache_size=self._cache_size,
                )
            return self._config

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

    # -- lifecycle ----------------------------------------------------------------------------

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

    def __enter__(self: _S) -> _S:
        self._check_open()
        return self


registry.use_store_builder(
    lambda config, deserializer: Store.from_config(config, deserializer=deserializer)
)
