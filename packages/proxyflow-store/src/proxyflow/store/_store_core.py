"""What every part of the [`Store`][proxyflow.store.Store] shares: its state and small helpers.

``StoreCore`` declares the fields ``Store.__init__`` sets, the read-only
properties, the serializer choice per call, the metrics wrapper (a clock read
only when metrics are on), ``config()`` and the context manager. The batch
paths (``_store_batch.py``), the proxy makers (``_store_proxies.py``) and the
``Store`` itself (``store.py``: construction, the one-object paths, registry
glue) build on it.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from proxyflow.api.closing import Closeable
from proxyflow.api.protocols import BytesLike, Connector, Key
from proxyflow.serialize import Deserializer, Serializer, deserialize, get_serializer
from proxyflow.store._serializers import load
from proxyflow.store.cache import LRUCache, cache_id
from proxyflow.store.config import StoreConfig
from proxyflow.store.exceptions import StoreClosedError, StoreConfigError
from proxyflow.store.metrics import StoreMetrics

if TYPE_CHECKING:
    from proxyflow.store.factory import StoreFactory

__all__ = ["StoreCore"]

_S = TypeVar("_S", bound="StoreCore")


class StoreCore(Closeable):
    """The state, properties, helpers and config of a store (no constructor of its own)."""

    _name: str
    _connector: Connector
    _cache_size: int
    _cache: LRUCache
    _metrics: StoreMetrics | None
    _closed: bool
    _ref: weakref.ref[Any]
    _lock: threading.Lock
    _config: StoreConfig | None
    _serializer_name: str
    _serializer: Serializer | None
    _deserializer: Deserializer
    _put_parts: Callable[..., Key] | None

    if TYPE_CHECKING:  # defined by Store (put, _factory) and StoreBatches (put_batch)

        def put(self, obj: Any, *, serializer: str | Serializer | None = None) -> Key: ...

        def put_batch(
            self, objs: Sequence[Any], *, serializer: str | Serializer | None = None
        ) -> list[Key]: ...

        def _factory(
            self,
            key: Key,
            *,
            evict: bool,
            target_type: type | None,
            deserializer: str | None = None,
            digest: bytes | None = None,
        ) -> StoreFactory: ...

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

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self: _S) -> _S:
        self._check_open()
        return self
