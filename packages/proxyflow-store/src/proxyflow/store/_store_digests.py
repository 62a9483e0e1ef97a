"""The digesting writes of the [`Store`][proxyflow.store.Store]: keys with their bytes' digest."""

from __future__ import annotations

from typing import Any

from proxyflow.api.buffers import nbytes
from proxyflow.api.protocols import BytesLike
from proxyflow.serialize import Serializer, serialize_parts
from proxyflow.store._serializers import dump
from proxyflow.store._store_core import StoreCore
from proxyflow.store._writing import put_pieces
from proxyflow.store.cache import cache_id
from proxyflow.store.digest import Digested, content_digest

__all__ = ["StoreDigests"]


class StoreDigests(StoreCore):
    """``put_digested`` of a [`Store`][proxyflow.store.Store].

    Batches need no counterpart: a caller that batches serializes each object
    with ``serialize`` (whose pieces ``content_digest`` takes as they are) and
    stores them with ``put_serialized_batch``, as the stream producer does.
    """

    def put_digested(self, obj: Any, *, serializer: str | Serializer | None = None) -> Digested:
        """Store one object as [`put`][proxyflow.store.store.Store.put] does, and return its digest.

        The digest is the [`content_digest`][proxyflow.store.digest.content_digest]
        of the bytes handed to the connector (computed over the pieces, not
        joined). A reader checks it before deserializing (a signed stream does).

        Returns:
            The key and the content digest.

        Raises:
            StoreClosedError: If the store is closed.
            SerializationError: If ``obj`` cannot be serialized (nothing is stored).
            BackendError: From the connector (nothing is stored).
        """
        self._check_open()
        start = self._clock()
        parts: list[BytesLike]
        if serializer is None and self._put_parts is not None:
            parts = serialize_parts(obj)
            key = put_pieces(self._connector, self._put_parts, parts)
        else:
            parts = [dump(self._pick_serializer(serializer), obj)]
            key = self._connector.put(parts[0])
        if self._metrics is not None:
            size = sum(map(nbytes, parts))
            self._metrics.hold(cache_id(key), size)
            self._record("put", start, nbytes=size)
        return Digested(key, content_digest(parts))
