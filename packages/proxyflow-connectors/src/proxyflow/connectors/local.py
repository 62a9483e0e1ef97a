"""An in-process connector: objects live in a ``dict`` of the current process.

Use it for tests, single-process pipelines and threads. It cannot cross
processes: its config only works in the process that created it.
"""

from __future__ import annotations

import os
import threading
import uuid
import weakref
from collections.abc import Sequence
from typing import Any, ClassVar

from proxyflow.api.buffers import flat_buffers
from proxyflow.api.closing import Closeable
from proxyflow.api.protocols import BytesLike
from proxyflow.connectors._config import check_config
from proxyflow.connectors._keys import check_key, new_keys
from proxyflow.connectors.exceptions import UnknownConnectorInstanceError

__all__ = ["LocalConnector"]


class _Shelf:
    """The dict, lock and byte count shared by connectors built from one config."""

    __slots__ = ("__weakref__", "lock", "nbytes", "objects")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.objects: dict[str, bytes] = {}
        self.nbytes = 0


_SHELVES: weakref.WeakValueDictionary[str, _Shelf] = weakref.WeakValueDictionary()
_SHELVES_LOCK = threading.Lock()


class LocalConnector(Closeable):
    """Keeps objects in a ``dict`` of this process, behind a lock.

    Objects are copied into immutable ``bytes`` by
    [`put`][proxyflow.connectors.local.LocalConnector.put] (a ``bytes`` object
    is kept as it is: it cannot change), so callers may reuse their buffers.
    Reads return that ``bytes`` object without a copy. Batches are all or
    nothing: nothing is stored until every object of the batch is copied.

    **It cannot cross processes.** [`config`][proxyflow.connectors.local.LocalConnector.config]
    names this instance by an id, and
    [`from_config`][proxyflow.connectors.local.LocalConnector.from_config] in
    the *same* process returns a connector sharing the same objects (this is how
    a store rebuilds itself from a config). In any other process, or once every
    connector sharing the data has been garbage-collected,
    [`from_config`][proxyflow.connectors.local.LocalConnector.from_config] raises
    [`UnknownConnectorInstanceError`][proxyflow.connectors.UnknownConnectorInstanceError].
    Use [`FileConnector`][proxyflow.connectors.file.FileConnector] or
    [`RedisConnector`][proxyflow.connectors.redis.RedisConnector] between
    processes.

    ``config()`` names the in-process dict by ``instance_id`` and ``pid``,
    both [`location_options`][proxyflow.connectors.local.LocalConnector.location_options].

    Example:
        ```python
        connector = LocalConnector()
        key = connector.put(b"hello")
        assert connector.get(key, evict=True) == b"hello"
        assert connector.get(key) is None
        ```

    Attributes:
        kind: ``"local"``, its name in the ``proxyflow.connectors`` entry-point group.
    """

    kind: ClassVar[str] = "local"
    location_options: ClassVar[frozenset[str]] = frozenset({"instance_id", "pid"})
    """Options of ``config()`` that name where the data lives."""
    client_options: ClassVar[frozenset[str]] = frozenset()
    """Options of ``config()`` that only tune this process's client: none."""

    def __init__(self) -> None:
        self._init_shared(uuid.uuid4().hex, _Shelf())
        with _SHELVES_LOCK:
            _SHELVES[self._instance_id] = self._shelf

    def _init_shared(self, instance_id: str, shelf: _Shelf) -> None:
        self._instance_id = instance_id
        self._shelf = shelf

    def __repr__(self) -> str:
        return f"{type(self).__name__}(instance_id={self._instance_id!r})"

    def put(self, data: BytesLike) -> str:
        """Store a copy of ``data`` under a new key and return the key."""
        return self._store([bytes(data)])[0]

    def put_parts(self, parts: Sequence[BytesLike]) -> str:
        """Store one copy of the concatenation of ``parts`` (joined once); return its key."""
        return self._store([b"".join(flat_buffers(parts))])[0]

    def put_batch(self, datas: Sequence[BytesLike]) -> list[str]:
        """Store copies of several objects; return their keys in order."""
        return self._store([bytes(data) for data in datas])

    def _store(self, values: list[bytes]) -> list[str]:
        keys = new_keys(len(values))
        shelf = self._shelf
        with shelf.lock:
            objects = shelf.objects
            for key, value in zip(keys, values, strict=True):
                objects[key] = value
                shelf.nbytes += len(value)
        return keys

    def get(self, key: str, *, evict: bool = False) -> bytes | None:
        """Return the bytes under ``key`` or ``None``; with ``evict`` also remove them."""
        return self.get_batch([key], evict=evict)[0]

    def get_batch(self, keys: Sequence[str], *, evict: bool = False) -> list[bytes | None]:
        """Return the bytes of several keys in order, ``None`` for missing ones."""
        checked = [check_key(key) for key in keys]
        shelf = self._shelf
        with shelf.lock:
            if not evict:
                return [shelf.objects.get(key) for key in checked]
            values = [shelf.objects.pop(key, None) for key in checked]
            shelf.nbytes -= sum(len(value) for value in values if value is not None)
            return values

    def exists(self, key: str) -> bool:
        """Return whether ``key`` holds an object."""
        checked = check_key(key)
        with self._shelf.lock:
            return checked in self._shelf.objects

    def evict(self, key: str) -> None:
        """Remove the object under ``key``; a missing key is ignored."""
        self.get_batch([key], evict=True)

    def stats(self) -> dict[str, int]:
        """Return ``{"objects": n, "bytes": b}`` held in the shared dict."""
        with self._shelf.lock:
            return {"objects": len(self._shelf.objects), "bytes": self._shelf.nbytes}

    def config(self) -> dict[str, Any]:
        """Return ``{"instance_id": ..., "pid": ...}``, usable only in this process."""
        return {"instance_id": self._instance_id, "pid": os.getpid()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LocalConnector:
        """Return a connector sharing the objects of the live connector named by ``config``.

        Args:
            config: The output of [`config`][proxyflow.connectors.local.LocalConnector.config]
                of a connector of this process.

        Raises:
            InvalidConfigError: ``config`` is not the output of
                [`config`][proxyflow.connectors.local.LocalConnector.config].
            UnknownConnectorInstanceError: ``config`` comes from another process,
                or no connector sharing that data is alive any more.
        """
        check_config(
            cls.kind,
            config,
            required=("instance_id", "pid"),
            types={"instance_id": (str,), "pid": (int,)},
        )
        instance_id = config["instance_id"]
        pid = config["pid"]
        if pid != os.getpid():
            raise UnknownConnectorInstanceError(
                f"LocalConnector {instance_id!r} was created in process {pid}, not in this "
                f"process ({os.getpid()}): a local connector cannot cross processes; "
                "use the 'file' or 'redis' connector instead"
            )
        with _SHELVES_LOCK:
            shelf = _SHELVES.get(instance_id) if isinstance(instance_id, str) else None
        if shelf is None:
            raise UnknownConnectorInstanceError(
                f"no live LocalConnector with instance_id {instance_id!r} in this process "
                f"({os.getpid()}): a local connector cannot cross processes, and its data "
                "is gone once every connector sharing it has been garbage-collected"
            )
        connector = cls.__new__(cls)
        connector._init_shared(instance_id, shelf)
        return connector

    def close(self) -> None:
        """Do nothing: the data stays readable by connectors sharing it.

        The objects are freed when the last connector sharing them is
        garbage-collected. Calling it several times is allowed.
        """
