"""How a store reads one object: before the connector call, the call, and after it.

``get`` and ``get_async`` (which the asyncio read of a store-backed proxy
uses) differ only in the connector call in the middle (``connector.get`` or
an awaited ``connector.get_async``): what happens before it (the cache looked up, or
emptied for an evicting read) and after it (the cache emptied again, the bytes
deserialized, the cache filled, the metrics recorded) lives here once, in
`StoreReads._read_begin` and `StoreReads._read_end`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import Any, NamedTuple

from proxyflow.api.buffers import BytesLike, nbytes
from proxyflow.api.protocols import Key
from proxyflow.serialize import Deserializer, deserialize
from proxyflow.serialize.format import TAG_PICKLE5
from proxyflow.store._store_core import StoreCore
from proxyflow.store.cache import cache_id

__all__ = ["THREADED_LOAD_MIN_BYTES", "OneRead", "StoreReads"]

THREADED_LOAD_MIN_BYTES = 1024 * 1024
"""From this size, an asyncio read deserializes a pickle (or checks a digest) in a thread."""


class OneRead(NamedTuple):
    """What `StoreReads._read_begin` decided about one read."""

    done: bool
    """The cache answered: ``value`` is the object and the connector is not asked."""
    value: Any
    """The cached object (when ``done``, or when an evicting read found it cached)."""
    hit: bool
    """Whether the cache held the object."""
    cid: Hashable
    """The cache id of the key."""
    loads: Deserializer
    """The deserializer of this read."""
    use_cache: bool
    """Whether this read uses the cache (no per-call deserializer)."""
    evict: bool
    """Whether the read removes the object from storage."""
    start: float
    """The start time, for the metrics (``0.0`` without metrics)."""


class StoreReads(StoreCore):
    """The one-object reads of a store: what ``get`` shares with ``get_async``."""

    def _read_begin(
        self, key: Key, deserializer: str | Deserializer | None, evict: bool
    ) -> OneRead:
        """Check the store is open and consult the cache before the connector call."""
        if self._closed:
            self._check_open()
        start = self._clock()
        use_cache = deserializer is None
        loads = self._deserializer if use_cache else self._pick_deserializer(deserializer)
        cid = cache_id(key)
        if evict:
            hit, cached = self._cache.pop(cid)
            return OneRead(False, cached, hit, cid, loads, use_cache, evict, start)
        if use_cache:
            hit, value = self._cache.get(cid)
            if self._metrics is not None:
                self._metrics.cache(hit=hit)
            if hit:
                self._record("get", start)
                return OneRead(True, value, hit, cid, loads, use_cache, evict, start)
        return OneRead(False, None, False, cid, loads, use_cache, evict, start)

    def _read_end(self, read: OneRead, data: BytesLike | None, default: Any) -> Any:
        """Turn the bytes the connector returned into the object (or ``default``)."""
        metrics = self._metrics
        if read.evict:
            self._cache.pop(read.cid)  # a concurrent non-evicting get may have cached it
            if metrics is not None:
                metrics.release(read.cid)
        if data is None:
            self._record("get", read.start)
            return default
        if read.evict and read.hit and read.use_cache:
            value = read.value
        else:
            value = self._load(read.loads, data)
            if read.use_cache and not read.evict:
                self._cache.put(read.cid, value)
        if metrics is not None:
            self._record("get", read.start, nbytes=nbytes(data))
        return value

    async def get_async(
        self,
        key: Key,
        *,
        deserializer: str | Deserializer | None = None,
        default: Any = None,
        evict: bool = False,
    ) -> Any:
        """Await the object stored under ``key`` without holding up the event loop.

        The read of [`get`][proxyflow.store.store.Store.get], with its
        arguments, result and errors. When the connector reads on the running
        loop (it has ``get_async``, as the Redis connector does), so does
        this, with no worker thread: everything around the read is `get`'s
        own, and bytes of 1 MiB or more holding a pickle (or read by another
        deserializer) are deserialized in a worker thread. Otherwise ``get``
        runs in a worker thread (``asyncio.to_thread``).

        Raises:
            StoreClosedError: If the store is closed.
            SerializationError: If the stored bytes cannot be deserialized.
            BackendError: A subclass such as ``BackendUnavailableError``, from the connector.
        """
        read_async = getattr(self._connector, "get_async", None)
        if not callable(read_async):
            return await asyncio.to_thread(
                self.get,  # type: ignore[attr-defined]
                key,
                deserializer=deserializer,
                default=default,
                evict=evict,
            )
        read = self._read_begin(key, deserializer, evict)
        if read.done:
            return read.value
        data = await read_async(key, evict=evict)
        if data is not None and _slow_to_load(read.loads, data):
            return await asyncio.to_thread(self._read_end, read, data, default)
        return self._read_end(read, data, default)


def _slow_to_load(loads: Deserializer, data: BytesLike) -> bool:
    """Whether deserializing ``data`` may hold the loop up: worth a worker thread.

    Measured (docs/benchmarks.md, "asyncio: resolve_async of Redis proxies"):
    unpickling 1 MiB of Python objects takes about 5 ms, while raw bytes,
    text and out-of-band arrays load in microseconds, and a thread hop costs
    about 0.1 ms per object. So: payloads of at least
    `THREADED_LOAD_MIN_BYTES` that hold a pickle stream, or that another
    deserializer (a named one, or a content digest check) reads.
    """
    if nbytes(data) < THREADED_LOAD_MIN_BYTES:
        return False
    if loads is not deserialize or not isinstance(data, (bytes, bytearray)):
        return True
    return data[0] == TAG_PICKLE5
