"""The store directory of a ``FileConnector``: created private, and cleaned up if asked.

[`prepare_directory`][proxyflow.connectors._file_dir.prepare_directory]
creates the directory and its missing parents with mode ``0o700`` and checks
that it can be written;
[`OwnFiles`][proxyflow.connectors._file_dir.OwnFiles] remembers the files one
connector wrote and the directories it created, so that ``clear_on_close``
deletes those and nothing else.
"""

from __future__ import annotations

import contextlib
import os
import threading

from proxyflow.connectors.exceptions import StoreDirectoryError

__all__ = ["DIR_MODE", "OwnFiles", "prepare_directory", "unlink_quietly"]

DIR_MODE = 0o700
"""The mode of the directories a connector creates."""


def prepare_directory(path: str) -> list[str]:
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
            os.mkdir(directory, DIR_MODE)
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


def unlink_quietly(path: str) -> None:
    """Remove the file ``path``, ignoring any failure (it is gone, or left in place)."""
    with contextlib.suppress(OSError):
        os.unlink(path)


class OwnFiles:
    """The files one connector wrote and has not evicted, and the directories it created.

    Thread-safe. With ``tracking=False`` (no ``clear_on_close``) it records
    nothing and [`clear`][proxyflow.connectors._file_dir.OwnFiles.clear]
    deletes nothing.

    Args:
        base: The store directory's path with a trailing separator.
        created_dirs: The directories the connector created, outermost first.
        tracking: Whether to record written files (``clear_on_close``).
    """

    def __init__(self, base: str, created_dirs: list[str], *, tracking: bool) -> None:
        self._base = base
        self._created_dirs = created_dirs
        self.tracking = tracking
        self._lock = threading.Lock()
        self._written: set[str] = set()

    def add(self, key: str) -> None:
        """Record that the connector wrote ``key``."""
        if self.tracking:
            with self._lock:
                self._written.add(key)

    def forget(self, key: str) -> None:
        """Record that ``key`` was deleted (evicted, or undone)."""
        if self.tracking:
            with self._lock:
                self._written.discard(key)

    def clear(self) -> None:
        """Delete the files recorded, then the directories created if they are empty.

        A file that cannot be deleted is left in place. Calling it again does nothing.
        """
        if not self.tracking:
            return
        with self._lock:
            keys = list(self._written)
            self._written.clear()
        for key in keys:
            unlink_quietly(self._base + key)
        for directory in reversed(self._created_dirs):
            try:
                os.rmdir(directory)
            except FileNotFoundError:
                continue
            except OSError:
                break  # not empty (someone else's files) or already gone
        self._created_dirs = []
