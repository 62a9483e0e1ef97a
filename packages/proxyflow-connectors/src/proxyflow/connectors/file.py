"""A connector that keeps each object in its own file of a shared directory.

Any process that can see the directory (a local disk, or a shared file system
such as NFS or Lustre) can read the objects.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from typing import Any, ClassVar

from proxyflow.connectors._buffers import byte_view
from proxyflow.connectors._config import check_config
from proxyflow.connectors._keys import check_key, new_key
from proxyflow.connectors.exceptions import ConnectorError, StoreDirectoryError

__all__ = ["FileConnector"]

_DIR_MODE = 0o700
_FILE_MODE = 0o600
_TEMP_PREFIX = ".tmp-"
_CLAIM_PREFIX = ".evict-"
_OPEN_FLAGS = getattr(os, "O_CLOEXEC", 0)


def _prepare_directory(path: str) -> list[str]:
    """Create ``path`` and missing parents with mode 0o700; return those created, outermost first.

    Raises:
        StoreDirectoryError: ``path`` cannot be created, is not a directory or
            is not writable by this process.
    """
    missing: list[str] = []
    current = path
    while not os.path.lexists(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    created: list[str] = []
    for directory in reversed(missing):
        try:
            os.mkdir(directory, _DIR_MODE)
        except FileExistsError:
            continue  # another process created it meanwhile
        except OSError as exc:
            raise StoreDirectoryError(
                f"cannot create store directory {path!r}: {exc.strerror or exc}"
            ) from exc
        created.append(directory)
    if not os.path.isdir(path):
        raise StoreDirectoryError(f"store directory {path!r} exists and is not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise StoreDirectoryError(f"store directory {path!r} is not writable by this process")
    return created


class FileConnector:
    """Keeps each object in its own file of ``store_dir``.

    Guarantees:

    * **Atomic writes**: an object is written to a hidden temporary file of the
      same directory and renamed to its key, so a reader sees either nothing or
      the whole object.
    * **Private files**: directories it creates get mode ``0o700`` and files
      ``0o600``. An existing directory is used as it is.
    * **No extra copies**: writes hand the caller's buffer to ``os.write``; reads
      fill a ``bytearray`` of the file's size with ``readinto`` and return it.
    * **Evict once**: ``get(key, evict=True)`` first renames the file to a
      private name, so when several processes evict the same key exactly one
      gets the bytes and the others get ``None``.
    * **close() keeps data**: unless ``clear_on_close=True``, in which case it
      deletes only the files this instance wrote (and the directories it
      created, if they are then empty). That flag is never part of
      :meth:`config`, so a rebuilt connector never deletes anything.

    Example:
        ```python
        connector = FileConnector("/tmp/proxyflow-objects")
        key = connector.put(b"hello")
        same = FileConnector.from_config(connector.config())  # e.g. in another process
        assert same.get(key) == b"hello"
        ```

    Attributes:
        kind: ``"file"``, its name in the ``proxyflow.connectors`` entry-point group.
    """

    kind: ClassVar[str] = "file"

    def __init__(self, store_dir: str | os.PathLike[str], *, clear_on_close: bool = False) -> None:
        """Use (and create if needed) ``store_dir``.

        Args:
            store_dir: Directory holding the objects; made absolute.
            clear_on_close: Whether :meth:`close` deletes the files this instance
                wrote. Never carried over by :meth:`config`.

        Raises:
            StoreDirectoryError: ``store_dir`` is a file, cannot be created or
                is not writable.
        """
        self._dir = os.path.abspath(os.fspath(store_dir))
        self._clear_on_close = clear_on_close
        self._created_dirs = _prepare_directory(self._dir)
        self._lock = threading.Lock()
        self._written: set[str] = set()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._dir!r}, clear_on_close={self._clear_on_close})"

    @property
    def store_dir(self) -> str:
        """The absolute path of the directory holding the objects."""
        return self._dir

    def _path(self, key: str) -> str:
        return os.path.join(self._dir, check_key(key))

    def put(self, data: bytes | bytearray | memoryview) -> str:
        """Write ``data`` to a new file atomically and return its key."""
        view = byte_view(data)
        key = new_key()
        temp = os.path.join(self._dir, _TEMP_PREFIX + key)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _OPEN_FLAGS, _FILE_MODE)
        try:
            try:
                written = 0
                while written < len(view):
                    written += os.write(fd, view[written:])
            finally:
                os.close(fd)
            os.replace(temp, os.path.join(self._dir, key))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        if self._clear_on_close:
            with self._lock:
                self._written.add(key)
        return key

    def put_batch(self, datas: Sequence[bytes | bytearray | memoryview]) -> list[str]:
        """Write several objects, each atomically; return their keys in order."""
        return [self.put(data) for data in datas]

    def _read(self, path: str) -> bytearray | None:
        try:
            fd = os.open(path, os.O_RDONLY | _OPEN_FLAGS)
        except FileNotFoundError:
            return None
        with open(fd, "rb", buffering=0) as stream:
            size = os.fstat(fd).st_size
            buffer = bytearray(size)
            with memoryview(buffer) as view:
                filled = 0
                while filled < size:
                    count = stream.readinto(view[filled:])
                    if not count:
                        raise ConnectorError(f"object file {path!r} shrank while being read")
                    filled += count
        return buffer

    def get(self, key: str, *, evict: bool = False) -> bytearray | None:
        """Return the bytes under ``key`` or ``None``; with ``evict`` also remove them.

        Raises:
            InvalidKeyError: ``key`` could not have been returned by :meth:`put`.
        """
        path = self._path(key)
        if not evict:
            return self._read(path)
        claim = os.path.join(self._dir, _CLAIM_PREFIX + new_key())
        try:
            os.rename(path, claim)
        except FileNotFoundError:
            return None  # missing, or another reader evicted it first
        try:
            data = self._read(claim)
        except BaseException:
            with contextlib.suppress(OSError):
                os.rename(claim, path)  # give the object back rather than lose it
            raise
        with contextlib.suppress(FileNotFoundError):
            os.unlink(claim)
        self._forget(key)
        return data

    def get_batch(self, keys: Sequence[str], *, evict: bool = False) -> list[bytearray | None]:
        """Return the bytes of several keys in order, ``None`` for missing ones."""
        for key in keys:
            check_key(key)
        return [self.get(key, evict=evict) for key in keys]

    def exists(self, key: str) -> bool:
        """Return whether ``key`` holds an object."""
        return os.path.isfile(self._path(key))

    def evict(self, key: str) -> None:
        """Delete the object under ``key``; a missing key is ignored."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(key))
        self._forget(key)

    def _forget(self, key: str) -> None:
        if self._clear_on_close:
            with self._lock:
                self._written.discard(key)

    def stats(self) -> dict[str, int]:
        """Return ``{"objects": n, "bytes": b}`` for every object file in the directory.

        This counts the objects of every connector using the same directory,
        not only those written by this instance.
        """
        objects = 0
        total = 0
        with os.scandir(self._dir) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    if entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
                        objects += 1
                except FileNotFoundError:
                    continue  # evicted while scanning
        return {"objects": objects, "bytes": total}

    def config(self) -> dict[str, Any]:
        """Return ``{"store_dir": <absolute path>}`` (never ``clear_on_close``)."""
        return {"store_dir": self._dir}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FileConnector:
        """Build a connector on the directory named by ``config``; it never clears on close.

        Raises:
            InvalidConfigError: ``config`` is not the output of :meth:`config`.
            StoreDirectoryError: The directory is unusable in this process.
        """
        check_config(cls.kind, config, required=("store_dir",))
        return cls(config["store_dir"])

    def close(self) -> None:
        """Keep all data, unless created with ``clear_on_close=True``.

        With ``clear_on_close=True``, delete the files this instance wrote and
        has not evicted, then the directories it created if they are empty.
        Calling it several times is allowed.
        """
        if not self._clear_on_close:
            return
        with self._lock:
            keys = list(self._written)
            self._written.clear()
        for key in keys:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self._dir, key))
        for directory in reversed(self._created_dirs):
            try:
                os.rmdir(directory)
            except FileNotFoundError:
                continue
            except OSError:
                break  # not empty (someone else's files) or already gone
        self._created_dirs = []
