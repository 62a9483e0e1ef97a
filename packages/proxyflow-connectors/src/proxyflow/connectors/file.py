"""A connector that keeps each object in its own file of a shared directory.

Any process that can see the directory (a local disk, or a shared file system
such as NFS or Lustre) can read the objects.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from typing import Any, ClassVar

from proxyflow.api.buffers import flat_buffer, flat_buffers
from proxyflow.api.closing import Closeable
from proxyflow.api.protocols import BytesLike
from proxyflow.connectors._config import check_config
from proxyflow.connectors._file_dir import OwnFiles, prepare_directory, unlink_quietly
from proxyflow.connectors._file_errors import translate_os_error
from proxyflow.connectors._fileio import read_all, write_all, writev_all
from proxyflow.connectors._keys import check_key, new_key
from proxyflow.connectors.exceptions import (
    ConnectorError,
    InvalidConfigError,
    record_leftover_keys,
)

__all__ = ["FileConnector"]

_FILE_MODE = 0o600
_TEMP_PREFIX = ".tmp-"
_OPEN_FLAGS = getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | _OPEN_FLAGS
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _OPEN_FLAGS


class FileConnector(Closeable):
    """Keeps each object in its own file of ``store_dir``.

    Guarantees:

    * **Atomic writes**: an object is written to a hidden temporary file of the
      same directory and renamed to its key, so a reader sees either nothing or
      the whole object.
    * **All or nothing**: when ``put``, ``put_parts`` or ``put_batch`` raises,
      no file of that call remains (``put_batch`` removes the objects it had
      already written); if removing them fails too, the error lists their keys
      in ``leftover_keys``.
    * **Private files**: directories it creates get mode ``0o700`` and files
      ``0o600``. An existing directory is used as it is.
    * **Few copies**: writes hand the caller's buffer to ``os.write``
      ([`put_parts`][proxyflow.connectors.file.FileConnector.put_parts] hands
      all pieces to one ``os.writev``); reads return ``bytes`` that
      ``os.read`` allocates at the file's size and the kernel fills directly.
    * **Evict once**: ``get(key, evict=True)`` reads the file, then unlinks it;
      only one ``unlink`` of a name can succeed, so when several processes
      evict the same key exactly one gets the bytes and the others get
      ``None``. A failed read unlinks nothing, so the object is not lost.
    * **Typed errors**: a full disk or quota raises
      [`ConnectorFullError`][proxyflow.connectors.exceptions.ConnectorFullError]
      (a ``BackendFullError``), a refused permission
      [`ConnectorAuthenticationError`][proxyflow.connectors.exceptions.ConnectorAuthenticationError],
      a vanished directory
      [`ConnectorConnectionError`][proxyflow.connectors.exceptions.ConnectorConnectionError];
      no raw ``OSError`` escapes.
    * **close() keeps data**: unless ``clear_on_close=True``, in which case it
      deletes only the files this instance wrote (and the directories it
      created, if they are then empty). That flag is never part of
      [`config`][proxyflow.connectors.file.FileConnector.config], so a rebuilt
      connector never deletes anything. ProxyStore's ``clear=True`` (delete
      the whole directory on close, in every process that rebuilds the
      connector) is refused with an error naming this change.

    ``config()`` holds only the location, ``store_dir``
    ([`location_options`][proxyflow.connectors.file.FileConnector.location_options]):
    a process that rebuilds the connector from an event reads and deletes
    files there, so a consumer may check it against a list of trusted
    directories.

    Keys are a random per-process prefix plus a counter (17 or more hex
    digits), distinct across processes and connector instances.

    Example:
        ```python
        with FileConnector("/tmp/proxyflow-objects") as connector:
            key = connector.put(b"hello")
            same = FileConnector.from_config(connector.config())  # e.g. in another process
            assert same.get(key) == b"hello"
        ```

    Attributes:
        kind: ``"file"``, its name in the ``proxyflow.connectors`` entry-point group.
    """

    kind: ClassVar[str] = "file"
    location_options: ClassVar[frozenset[str]] = frozenset({"store_dir"})
    """Options of ``config()`` that name where the data lives."""
    client_options: ClassVar[frozenset[str]] = frozenset()
    """Options of ``config()`` that only tune this process's client: none."""

    def __init__(
        self,
        store_dir: str | os.PathLike[str],
        *,
        clear_on_close: bool = False,
        clear: bool | None = None,
    ) -> None:
        """Use (and create if needed) ``store_dir``.

        Args:
            store_dir: Directory holding the objects; made absolute.
            clear_on_close: Whether [`close`][proxyflow.connectors.file.FileConnector.close]
                deletes the files this instance wrote. Never carried over by
                [`config`][proxyflow.connectors.file.FileConnector.config].
            clear: Accepted for ProxyStore code: ``False`` (keep the data on
                close) is what proxyflow always does; ``True`` is refused.

        Raises:
            StoreDirectoryError: ``store_dir`` is a file, cannot be created or
                is not writable.
            InvalidConfigError: ``clear=True``.
        """
        if clear:
            raise InvalidConfigError(
                "FileConnector(clear=True) is ProxyStore's 'delete the whole store directory "
                "on close', which proxyflow does not copy: every process that rebuilt the "
                "connector would delete objects others have not read yet. Drop clear=, or "
                "pass clear_on_close=True to delete only the files this connector wrote, "
                "or remove the directory yourself once every reader is done"
            )
        self._dir = os.path.abspath(os.fspath(store_dir))
        # Paths are built by concatenation on the hot path (no os.path.join).
        self._base = os.path.join(self._dir, "")
        self._temp_base = self._base + _TEMP_PREFIX
        self._clear_on_close = clear_on_close
        self._own = OwnFiles(self._base, prepare_directory(self._dir), tracking=clear_on_close)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._dir!r}, clear_on_close={self._clear_on_close})"

    @property
    def store_dir(self) -> str:
        """The absolute path of the directory holding the objects."""
        return self._dir

    def _path(self, key: str) -> str:
        return self._base + check_key(key)

    def _error(self, exc: OSError, action: str) -> ConnectorError:
        return translate_os_error(exc, action=action, store_dir=self._dir)

    def _publish(self, key: str, data: Any, size: int, *, vectored: bool) -> str:
        """Write ``data`` (one flat buffer, or a list of them) to a temporary file, rename it."""
        temp = self._temp_base + key
        try:
            fd = os.open(temp, _WRITE_FLAGS, _FILE_MODE)
            try:
                try:
                    if vectored:
                        writev_all(fd, data)
                    else:
                        write_all(fd, data)
                finally:
                    os.close(fd)
                os.replace(temp, self._base + key)
            except BaseException:
                unlink_quietly(temp)
                raise
        except OSError as exc:
            raise self._error(exc, f"writing an object of {size} bytes") from exc
        self._own.add(key)
        return key

    def put(self, data: BytesLike) -> str:
        """Write ``data`` to a new file atomically and return its key.

        Raises:
            ConnectorFullError: The file system or a quota is full (nothing is kept).
            ConnectorError: Another failure of the file system, typed (see the module).
        """
        flat = flat_buffer(data)
        return self._publish(new_key(), flat, len(flat), vectored=False)

    def put_parts(self, parts: Sequence[BytesLike]) -> str:
        """Write the concatenation of ``parts`` to a new file atomically; return its key.

        The parts are written with ``os.writev`` (at most ``IOV_MAX`` per call),
        never joined in memory, so a large object made of a header and big
        buffers costs no extra copy.

        Example:
            ```python
            key = connector.put_parts([b"head", memoryview(b"body")])
            assert connector.get(key) == b"headbody"
            ```
        """
        flats = flat_buffers(parts)
        return self._publish(new_key(), flats, sum(map(len, flats)), vectored=True)

    def put_batch(self, datas: Sequence[BytesLike]) -> list[str]:
        """Write several objects, each atomically; return their keys in order.

        All or nothing: if one write fails, the files already written by this
        call are removed before the error propagates.
        """
        keys: list[str] = []
        try:
            for data in datas:
                flat = flat_buffer(data)
                keys.append(self._publish(new_key(), flat, len(flat), vectored=False))
        except ConnectorError as exc:
            self._undo(keys, exc)
            raise
        except BaseException:
            self._undo(keys, None)
            raise
        return keys

    def _undo(self, keys: list[str], error: ConnectorError | None) -> None:
        """Remove the files of ``keys``; record on ``error`` those that could not be removed."""
        left = []
        for key in keys:
            try:
                os.unlink(self._base + key)
            except FileNotFoundError:
                pass
            except OSError:
                left.append(key)
            self._own.forget(key)
        if left and error is not None:
            record_leftover_keys(error, left)

    def _read(self, path: str, *, evict: bool) -> bytes | None:
        try:
            try:
                fd = os.open(path, _READ_FLAGS)
            except FileNotFoundError:
                return None
            try:
                data = read_all(fd, path)
            finally:
                os.close(fd)
            if evict:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    return None  # another reader evicted it first: it got the bytes, not us
        except OSError as exc:
            raise self._error(exc, "reading an object") from exc
        return data

    def get(self, key: str, *, evict: bool = False) -> bytes | None:
        """Return the bytes under ``key`` or ``None``; with ``evict`` also remove them.

        With ``evict``, the file is read and then unlinked; the reader whose
        ``unlink`` succeeds returns the bytes, any other gets ``None``. A
        reader that opened the file earlier still reads all of it.

        Raises:
            InvalidKeyError: ``key`` could not have been returned by
                [`put`][proxyflow.connectors.file.FileConnector.put].
            ConnectorIOError: The file was truncated while being read.
            ConnectorError: Another failure of the file system, typed (see the module).
        """
        data = self._read(self._base + check_key(key), evict=evict)
        if evict and data is not None and self._clear_on_close:
            self._own.forget(key)
        return data

    def get_batch(self, keys: Sequence[str], *, evict: bool = False) -> list[bytes | None]:
        """Return the bytes of several keys in order, ``None`` for missing ones."""
        for key in keys:
            check_key(key)
        return [self.get(key, evict=evict) for key in keys]

    def exists(self, key: str) -> bool:
        """Return whether ``key`` holds an object."""
        try:
            mode = os.stat(self._path(key)).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as exc:
            raise self._error(exc, "looking for an object") from exc
        return stat.S_ISREG(mode)

    def evict(self, key: str) -> None:
        """Delete the object under ``key``; a missing key is ignored."""
        path = self._path(key)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise self._error(exc, "deleting an object") from exc
        self._own.forget(key)

    def stats(self) -> dict[str, int]:
        """Return ``{"objects": n, "bytes": b}`` for every object file in the directory.

        This counts the objects of every connector using the same directory,
        not only those written by this instance.
        """
        objects = 0
        total = 0
        try:
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
        except OSError as exc:
            raise self._error(exc, "counting objects") from exc
        return {"objects": objects, "bytes": total}

    def config(self) -> dict[str, Any]:
        """Return ``{"store_dir": <absolute path>}`` (never ``clear_on_close``)."""
        return {"store_dir": self._dir}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FileConnector:
        """Build a connector on the directory named by ``config``; it never clears on close.

        Raises:
            InvalidConfigError: ``config`` is not the output of
                [`config`][proxyflow.connectors.file.FileConnector.config].
            StoreDirectoryError: The directory is unusable in this process.
        """
        check_config(cls.kind, config, required=("store_dir",), types={"store_dir": (str,)})
        return cls(config["store_dir"])

    def close(self) -> None:
        """Keep all data, unless created with ``clear_on_close=True``.

        With ``clear_on_close=True``, delete the files this instance wrote and
        has not evicted, then the directories it created if they are empty.
        A file that cannot be deleted is left in place. Calling it several
        times is allowed.
        """
        self._own.clear()
