"""How a store reads a batch of keys: cache hits kept, misses fetched in one connector call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from proxyflow.api.buffers import nbytes
from proxyflow.api.protocols import BytesLike, Connector, Key
from proxyflow.serialize import SerializationError
from proxyflow.store.cache import LRUCache, cache_id
from proxyflow.store.metrics import StoreMetrics

__all__ = ["ReadBatch", "read_batch"]


class ReadBatch(NamedTuple):
    """The outcome of a batch read."""

    values: list[Any]
    """The objects (or the default, or a `SerializationError`), in key order."""
    nbytes: int
    """The bytes fetched from the connector."""


def read_batch(
    connector: Connector,
    cache: LRUCache,
    load: Callable[[BytesLike], Any],
    keys: Sequence[Key],
    *,
    default: Any,
    evict: bool,
    return_exceptions: bool,
    metrics: StoreMetrics | None,
) -> ReadBatch:
    """Read ``keys`` through ``cache``, fetching what it misses with one ``get_batch``.

    With ``evict``, every key is fetched (and so removed from storage) and
    dropped from the cache; a cached object is still returned rather than
    deserialized again. With ``return_exceptions``, an object that cannot be
    deserialized yields its `SerializationError` in place, so the other
    objects (already evicted, perhaps) are not lost.
    """
    keys = list(keys)
    results: list[Any] = [default] * len(keys)
    cached: dict[int, Any] = {}
    fetch: list[int] = []
    for i, key in enumerate(keys):
        hit, value = cache.pop(cache_id(key)) if evict else cache.get(cache_id(key))
        if metrics is not None and not evict:
            metrics.cache(hit=hit)
        if hit:
            cached[i] = value
        if evict or not hit:
            fetch.append(i)
    fetched = 0
    if fetch:
        datas = connector.get_batch([keys[i] for i in fetch], evict=evict)
        for i, data in zip(fetch, datas, strict=True):
            if evict:
                cid = cache_id(keys[i])
                cache.pop(cid)
                if metrics is not None:
                    metrics.release(cid)
            if data is None:
                continue
            fetched += nbytes(data)
            if i in cached:
                results[i] = cached[i]
                continue
            try:
                results[i] = load(data)
            except SerializationError as exc:
                if not return_exceptions:
                    raise
                results[i] = exc
                continue
            if not evict:
                cache.put(cache_id(keys[i]), results[i])
    if not evict:
        for i, value in cached.items():
            results[i] = value
    return ReadBatch(results, fetched)
