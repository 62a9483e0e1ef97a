"""The batch paths of the [`Store`][proxyflow.store.Store]: many objects per connector call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from proxyflow.api.buffers import nbytes
from proxyflow.api.protocols import BytesLike, Key
from proxyflow.serialize import Serializer, serialize_parts
from proxyflow.store._reading import read_batch
from proxyflow.store._serializers import dump
from proxyflow.store._store_core import StoreCore
from proxyflow.store._writing import put_pieces_batch
from proxyflow.store.cache import cache_id

__all__ = ["StoreBatches"]


class StoreBatches(StoreCore):
    """``put_batch``, ``serialize`` + ``put_serialized_batch`` and ``get_batch`` of a Store."""

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
        if serializer is None:
            return self.put_serialized_batch([self.serialize(obj) for obj in objs])
        metrics = self._metrics
        start = self._clock()
        dumps = self._pick_serializer(serializer)
        datas = [dump(dumps, obj) for obj in objs]
        keys = list(self._connector.put_batch(datas)) if datas else []
        sizes = [nbytes(d) for d in datas]
        if metrics is not None:
            for key, size in zip(keys, sizes, strict=True):
                metrics.hold(cache_id(key), size)
            self._record("put_batch", start, objects=len(sizes), nbytes=sum(sizes))
        return keys

    def serialize(self, obj: Any) -> list[BytesLike]:
        """Serialize ``obj`` as [`put`][proxyflow.store.store.Store.put] would, storing nothing.

        The pieces are for
        [`put_serialized_batch`][proxyflow.store.store.Store.put_serialized_batch]:
        a caller that buffers objects (the stream producer's batches) serializes
        each one when it is handed over, so that an object that cannot be
        serialized fails alone, at once, and the batch stores bytes only.
        Pieces may be views of the object's memory: store them before
        changing the object.

        Raises:
            StoreClosedError: If the store is closed.
            SerializationError: If ``obj`` cannot be serialized.
        """
        self._check_open()
        if self._put_parts is not None:
            return serialize_parts(obj)
        return [dump(self._pick_serializer(None), obj)]

    def put_serialized_batch(self, pieces: Sequence[Sequence[BytesLike]]) -> list[Key]:
        """Store objects already serialized by [`serialize`][proxyflow.store.store.Store.serialize].

        All or nothing, as [`put_batch`][proxyflow.store.store.Store.put_batch]:
        if storing fails part way, the objects already stored by this call are
        evicted before the error propagates (keys that could not be evicted are
        listed in the error's ``leftover_keys``).

        Args:
            pieces: One list of pieces per object, as ``serialize`` returned them.

        Returns:
            The keys, in order.

        Raises:
            StoreClosedError: If the store is closed.
            BackendError: A subclass such as ``BackendFullError``, from the connector.
        """
        self._check_open()
        metrics = self._metrics
        start = self._clock()
        if self._put_parts is not None:
            parts = [list(p) for p in pieces]
            written = put_pieces_batch(self._connector, self._put_parts, parts)
            keys, sizes = written.keys, written.sizes
        else:
            datas = [p[0] if len(p) == 1 else b"".join(p) for p in pieces]
            keys = list(self._connector.put_batch(datas)) if datas else []
            sizes = [nbytes(d) for d in datas]
        if metrics is not None:
            for key, size in zip(keys, sizes, strict=True):
                metrics.hold(cache_id(key), size)
            self._record("put_batch", start, objects=len(sizes), nbytes=sum(sizes))
        return keys

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
