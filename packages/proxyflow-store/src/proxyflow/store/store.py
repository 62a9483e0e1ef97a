"""The `Store`: objects in, keys and proxies out, over any connector."""

from __future__ import annotations

import json
import threading
import time
import weakref
from collections.abc import Hashable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

from proxyflow.proxy import Proxy
from proxyflow.serialize import (
    CUSTOM_SERIALIZER,
    DEFAULT_SERIALIZER,
    BytesLike,
    Deserializer,
    SerializationError,
    Serializer,
    UnknownSerializerError,
    get_serializer,
    serialize,
    serialize_parts,
    serializer_name,
)
from proxyflow.store import registry
from proxyflow.store.cache import LRUCache
from proxyflow.store.config import StoreConfig
from proxyflow.store.connector_registry import connector_from_config
from proxyflow.store.exceptions import StoreClosedError, StoreConfigError
from proxyflow.store.factory import StoreFactory
from proxyflow.store.metrics import StoreMetrics
from proxyflow.store.protocols import Connector, Key, VectoredConnector

__all__ = ["VECTORED_PUT_MIN_BYTES", "Store"]

T = TypeVar("T")

VECTORED_PUT_MIN_BYTES = 64 * 1024
"""Serialized size from which a store hands pickled objects to ``put_parts`` in pieces.

Below it, joining the (small) pieces costs less than a vectored write.
"""


def _cache_id(key: Key) -> Hashable:
    """A hashable stand-in for a key (keys are small JSON values)."""
    try:
        hash(key)
    except TypeError:
        return json.dumps(key, sort_keys=True)
    return key  # type: ignore[no-any-return]


def _nbytes(data: BytesLike) -> int:
    return data.nbytes if isinstance(data, memoryview) else len(data)


class Store:
    """Puts Python objects into a connector and gets them (or lazy proxies) back.

    A store serializes objects (by default with
    [`proxyflow.serialize.serialize`][proxyflow.serialize.serialize]), hands the bytes to its
    [`Connector`][proxyflow.store.Connector] and returns the connector's keys. Reads
    are served from an LRU cache of deserialized objects when possible
    (connector keys are never reused, so a cached object can only be stale if
    it was evicted elsewhere). Store-backed proxies carry only the store's
    [`StoreConfig`][proxyflow.store.config.StoreConfig] and a key, so another
    process can resolve them.

    When the connector is a [`VectoredConnector`][proxyflow.store.VectoredConnector] and the
    default serializer is used, a large pickled object (from
    [`VECTORED_PUT_MIN_BYTES`][proxyflow.store.store.VECTORED_PUT_MIN_BYTES]) is
    handed to ``put_parts`` as pieces (its header, pickle stream and out-of-band
    buffers, e.g. a numpy array's own memory), so it is written without first
    being copied into one buffer.

    The store is thread-safe. [`close`][proxyflow.store.store.Store.close]
    releases the connector but never deletes shared data; any operation
    afterwards raises [`StoreClosedError`][proxyflow.store.StoreClosedError].

    Serializer selection: ``None`` uses ``"default"``; a ``str`` names a
    registered serializer; a callable is looked up in the registry to record
    its name in [`config`][proxyflow.store.store.Store.config]. An
    *unregistered* callable is recorded as ``"custom"``: it needs
    ``deserializer=`` here, and every other process must pass its own
    ``deserializer=`` to [`from_config`][proxyflow.store.store.Store.from_config]
    / [`get_or_create_store`][proxyflow.store.get_or_create_store].

    Args:
        name: The store name (unique among registered stores of a process).
        connector: Where the bytes go.
        serializer: Registered name or serializer callable.
        deserializer: Deserializer overriding the one registered with the serializer.
        cache_size: Entries in the cache of deserialized objects; ``0`` disables it.
        metrics: Record per-operation [`StoreMetrics`][proxyflow.store.StoreMetrics].

    Raises:
        StoreConfigError: If ``name`` or ``cache_size`` is invalid, or an
            unregistered serializer callable comes without a deserializer.
        UnknownSerializerError: If ``serializer`` names no registered serializer.

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
        self._serializer: Serializer | None
        self._serializer_name, self._serializer, self._deserializer = _select(
            serializer, deserializer
        )
        self._put_parts = (
            connector.put_parts
            if self._serializer is serialize and isinstance(connector, VectoredConnector)
            else None
        )

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
                    f"store {self._name!r} was rebuilt from a config with serializer "
                    f"{self._serializer_name!r}; pass serializer= to write to it"
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

    def _clock(self) -> float:
        """Return the start time of an operation, or ``0.0`` without metrics (no clock read)."""
        return time.perf_counter() if self._metrics is not None else 0.0

    def _record(self, op: str, start: float, *, objects: int = 1, nbytes: int = 0) -> None:
        if self._metrics is not None:
            self._metrics.record(
                op, objects=objects, nbytes=nbytes, seconds=time.perf_counter() - start
            )

    def _forget(self, key: Key) -> Hashable:
        cid = _cache_id(key)
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
        """
        if self._closed:
            self._check_open()
        metrics = self._metrics
        start = self._clock()
        if serializer is None and self._put_parts is not None:
            key, size = self._put_default(obj)
        else:
            data = self._pick_serializer(serializer)(obj)
            key = self._connector.put(data)
            size = _nbytes(data)
        if metrics is not None:
            metrics.hold(_cache_id(key), size)
            self._record("put", start, nbytes=size)
        return key

    def _put_default(self, obj: Any) -> tuple[Key, int]:
        """Put ``obj`` with the default serializer into a vectored connector; return key, size."""
        parts = serialize_parts(obj)
        if len(parts) == 1:
            data = parts[0]
            return self._connector.put(data), len(data)
        size = sum(map(len, parts))
        if size >= VECTORED_PUT_MIN_BYTES and self._put_parts is not None:
            return self._put_parts(parts), size
        return self._connector.put(b"".join(parts)), size

    def put_batch(
        self, objs: Sequence[Any], *, serializer: str | Serializer | None = None
    ) -> list[Key]:
        """Serialize several objects and store them with one connector call.

        Every object is serialized before anything is stored, so a failure
        stores nothing.

        Args:
            objs: The objects.
            serializer: Registered name or callable for this call only.

        Returns:
            The keys, in the order of ``objs``.

        Raises:
            StoreClosedError: If the store is closed.
            SerializationError: If an object cannot be serialized.
        """
        self._check_open()
        metrics = self._metrics
        start = self._clock()
        if serializer is None and self._put_parts is not None:
            keys, sizes = self._put_batch_default(objs)
        else:
            dumps = self._pick_serializer(serializer)
            datas = [dumps(obj) for obj in objs]
            keys = list(self._connector.put_batch(datas)) if datas else []
            sizes = [_nbytes(d) for d in datas]
        if metrics is not None:
            for key, size in zip(keys, sizes, strict=True):
                metrics.hold(_cache_id(key), size)
            self._record("put_batch", start, objects=len(sizes), nbytes=sum(sizes))
        return keys

    def _put_batch_default(self, objs: Sequence[Any]) -> tuple[list[Key], list[int]]:
        """Put a batch with the default serializer into a vectored connector.

        Small objects go in one ``put_batch`` call; each large pickled object
        goes to ``put_parts``. Every object is serialized first.
        """
        put_parts = self._put_parts
        assert put_parts is not None
        serialized = [serialize_parts(obj) for obj in objs]
        sizes = [sum(map(len, parts)) for parts in serialized]
        small: list[int] = []
        datas: list[BytesLike] = []
        keys: list[Key] = [None] * len(objs)
        for i, parts in enumerate(serialized):
            if len(parts) == 1:
                datas.append(parts[0])
            elif sizes[i] >= VECTORED_PUT_MIN_BYTES:
                continue
            else:
                datas.append(b"".join(parts))
            small.append(i)
        if datas:
            for i, key in zip(small, self._connector.put_batch(datas), strict=True):
                keys[i] = key
        if len(small) < len(objs):
            taken = set(small)
            for i, parts in enumerate(serialized):
                if i not in taken:
                    keys[i] = put_parts(parts)
        return keys, sizes

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
        """
        if self._closed:
            self._check_open()
        metrics = self._metrics
        start = self._clock()
        use_cache = deserializer is None
        cache = self._cache
        if evict:
            cid = _cache_id(key)
            hit, cached = cache.pop(cid)
            data = self._connector.get(key, evict=True)
            cache.pop(cid)  # a concurrent non-evicting get may have cached it meanwhile
            if metrics is not None:
                metrics.release(cid)
            if data is None:
                self._record("get", start)
                return default
            if hit and use_cache:
                value = cached
            else:
                value = (
                    self._deserializer if use_cache else self._pick_deserializer(deserializer)
                )(data)
            if metrics is not None:
                self._record("get", start, nbytes=_nbytes(data))
            return value
        cid = _cache_id(key)
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
        value = (self._deserializer if use_cache else self._pick_deserializer(deserializer))(data)
        if use_cache:
            cache.put(cid, value)
        if metrics is not None:
            self._record("get", start, nbytes=_nbytes(data))
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
        """
        self._check_open()
        start = self._clock()
        keys = list(keys)
        results: list[Any] = [default] * len(keys)
        cached: dict[int, Any] = {}
        fetch: list[int] = []
        for i, key in enumerate(keys):
            hit, value = (
                self._cache.pop(_cache_id(key)) if evict else self._cache.get(_cache_id(key))
            )
            if self._metrics is not None and not evict:
                self._metrics.cache(hit=hit)
            if hit:
                cached[i] = value
            if evict or not hit:
                fetch.append(i)
        nbytes = 0
        if fetch:
            datas = self._connector.get_batch([keys[i] for i in fetch], evict=evict)
            for i, data in zip(fetch, datas, strict=True):
                if evict:
                    self._forget(keys[i])
                if data is None:
                    continue
                nbytes += _nbytes(data)
                if i in cached:
                    results[i] = cached[i]
                    continue
                try:
                    results[i] = self._deserializer(data)
                except SerializationError as exc:
                    if not return_exceptions:
                        raise
                    results[i] = exc
                    continue
                if not evict:
                    self._cache.put(_cache_id(keys[i]), results[i])
        if not evict:
            for i, value in cached.items():
                results[i] = value
        self._record("get_batch", start, objects=len(keys), nbytes=nbytes)
        return results

    def exists(self, key: Key) -> bool:
        """Return whether storage holds an object under ``key`` (always asks the connector)."""
        self._check_open()
        start = self._clock()
        found = self._connector.exists(key)
        self._record("exists", start)
        return bool(found)

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
        factory = StoreFactory(
            key,
            self._config or self.config(),
            evict=evict,
            target_type=target_type,
            deserializer=deserializer,
        )
        factory._store = self._ref
        return factory

    def proxy(
        self, obj: T, *, evict: bool = False, serializer: str | Serializer | None = None
    ) -> Proxy[T]:
        """Store ``obj`` now and return a lazy proxy of it.

        The proxy reports ``type(obj)`` for ``isinstance`` without resolving
        (except for binary objects, which come back as the buffer type the
        connector returns, so ``isinstance`` resolves them), and pickles to a
        few hundred bytes at most (the store config and key).

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
        """
        name: str | None = None
        if serializer is not None:
            name = serializer if isinstance(serializer, str) else serializer_name(serializer)
            if name is None:
                raise StoreConfigError(
                    "proxy() needs a registered serializer so that other processes can "
                    "deserialize it; register it with register_serializer()"
                )
            if name == self._serializer_name:
                name = None
        key = self.put(obj, serializer=serializer)
        return Proxy(
            self._factory(key, evict=evict, target_type=_reported_type(obj), deserializer=name)
        )

    def proxy_batch(self, objs: Sequence[Any], *, evict: bool = False) -> list[Proxy[Any]]:
        """Store several objects with one connector call and return a proxy of each.

        Args:
            objs: The objects.
            evict: Remove each object from storage when its proxy resolves.

        Returns:
            Proxies in the order of ``objs``.

        Raises:
            StoreClosedError: If the store is closed.
            SerializationError: If an object cannot be serialized (nothing is stored).
        """
        keys = self.put_batch(objs)
        return [
            Proxy(self._factory(key, evict=evict, target_type=_reported_type(obj)))
            for key, obj in zip(keys, objs, strict=True)
        ]

    def proxy_from_key(
        self, key: Key, *, evict: bool = False, target_type: type | None = None
    ) -> Proxy[Any]:
        """Return a lazy proxy of an object already stored under ``key``.

        Args:
            key: A key of this store.
            evict: Remove the object from storage when the proxy resolves.
            target_type: The object's type, if known, for ``isinstance``
                checks that do not resolve.

        Returns:
            A proxy; if the key holds nothing when it resolves, it raises
            [`ProxyResolveError`][proxyflow.proxy.ProxyResolveError] caused by
            [`ObjectMissingError`][proxyflow.store.ObjectMissingError].

        Raises:
            StoreClosedError: If the store is closed.
        """
        if self._closed:
            self._check_open()
        return Proxy(self._factory(key, evict=evict, target_type=target_type))

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
        serializer: Serializer | None = None
        if cfg.serializer != CUSTOM_SERIALIZER:
            try:
                serializer = get_serializer(cfg.serializer)[0]
            except UnknownSerializerError:
                if deserializer is None:
                    raise
        elif deserializer is None:
            raise UnknownSerializerError(
                f"store {cfg.name!r} uses a custom (unregistered) serializer; pass "
                "deserializer= to read it in this process, or register the serializer "
                "under a name with register_serializer()"
            )
        connector = connector_from_config(cfg.connector, cfg.options)
        try:
            store = cls(
                cfg.name,
                connector,
                serializer=serializer,
                deserializer=deserializer,
                cache_size=cfg.cache_size,
            )
        except BaseException:
            connector.close()
            raise
        if serializer is None:
            store._serializer = None
            store._serializer_name = cfg.serializer
            store._put_parts = None
        return store

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
        registry._discard(self)
        self._connector.close()

    def __enter__(self) -> Store:
        self._check_open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _select(
    serializer: str | Serializer | None, deserializer: Deserializer | None
) -> tuple[str, Serializer, Deserializer]:
    """Resolve the constructor's serializer arguments to ``(name, dumps, loads)``."""
    if serializer is None:
        serializer = DEFAULT_SERIALIZER
    if isinstance(serializer, str):
        dumps, loads = get_serializer(serializer)
        return serializer, dumps, deserializer or loads
    if not callable(serializer):
        raise TypeError(f"serializer must be a str or a callable, got {type(serializer).__name__}")
    name = serializer_name(serializer)
    if name is not None:
        return name, serializer, deserializer or get_serializer(name)[1]
    if deserializer is None:
        raise StoreConfigError(
            "an unregistered serializer callable needs deserializer= (and other processes "
            "must pass their own); or register it with register_serializer()"
        )
    return CUSTOM_SERIALIZER, serializer, deserializer


_BINARY = (bytes, bytearray, memoryview)


def _reported_type(obj: object) -> type | None:
    """Return the type an unresolved proxy of ``obj`` reports, or ``None``.

    Binary objects travel untagged and come back as whatever buffer type the
    connector returns (``bytes``, ``bytearray`` or ``memoryview``), so their
    proxies report no type and resolve to answer ``isinstance`` truthfully.
    """
    return None if isinstance(obj, _BINARY) else type(obj)
