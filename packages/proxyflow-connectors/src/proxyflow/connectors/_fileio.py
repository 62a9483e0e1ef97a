"""Whole-buffer reads and writes on raw file descriptors (no ``io`` wrappers)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from proxyflow.connectors._buffers import FlatBuffer
from proxyflow.connectors.exceptions import ConnectorError

__all__ = ["read_all", "write_all", "writev_all"]

try:
    _IOV_MAX = max(16, min(os.sysconf("SC_IOV_MAX"), 1024))
except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
    _IOV_MAX = 16


def write_all(fd: int, data: FlatBuffer) -> None:
    """Write all of ``data`` (``len(data)`` bytes) to ``fd``, resuming after partial writes."""
    written = os.write(fd, data)
    size = len(data)
    if written < size:
        with memoryview(data) as view:
            while written < size:
                written += os.write(fd, view[written:])


def writev_all(fd: int, buffers: Sequence[FlatBuffer]) -> None:
    """Write the concatenation of ``buffers`` to ``fd`` with ``writev`` and no joining copy.

    At most ``IOV_MAX`` buffers go into one system call; a partial write resumes
    at the first byte not written.
    """
    pending = [buffer for buffer in buffers if len(buffer)]
    start = 0
    while start < len(pending):
        batch = pending[start : start + _IOV_MAX]
        written = os.writev(fd, batch)
        for buffer in batch:
            size = len(buffer)
            if written < size:
                # Partially written (or not at all): keep the rest of this buffer.
                pending[start] = memoryview(buffer)[written:]
                break
            written -= size
            start += 1


def read_all(fd: int, name: str) -> bytearray:
    """Return the whole content of the regular file open as ``fd``, in a new ``bytearray``.

    The buffer is allocated once at the file's size and filled with ``readv``.

    Raises:
        ConnectorError: The file shrank while being read (someone truncated it).
    """
    size = os.fstat(fd).st_size
    buffer = bytearray(size)
    if size:
        filled = os.readv(fd, (buffer,))
        if filled < size:
            with memoryview(buffer) as view:
                while filled < size:
                    count = os.readv(fd, (view[filled:],))
                    if not count:
                        raise ConnectorError(f"object file {name!r} shrank while being read")
                    filled += count
    return buffer
