"""Whole-buffer reads and writes on raw file descriptors (no ``io`` wrappers)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from proxyflow.api.protocols import BytesLike
from proxyflow.connectors.exceptions import ConnectorIOError

__all__ = ["read_all", "write_all", "writev_all"]

try:
    _IOV_MAX = max(16, min(os.sysconf("SC_IOV_MAX"), 1024))
except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
    _IOV_MAX = 16


def write_all(fd: int, data: BytesLike) -> None:
    """Write all of ``data`` (``len(data)`` bytes) to ``fd``, resuming after partial writes."""
    written = os.write(fd, data)
    size = len(data)
    if written < size:
        with memoryview(data) as view:
            while written < size:
                written += os.write(fd, view[written:])


def writev_all(fd: int, buffers: Sequence[BytesLike]) -> None:
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


def read_all(fd: int, name: str) -> bytes:
    """Return the whole content of the regular file open as ``fd``, as ``bytes``.

    ``os.read`` allocates the ``bytes`` object at the file's size and the
    kernel fills it directly: one allocation, no zero-filling, no copy. Only a
    file larger than one ``read`` returns (about 2 GiB on Linux) is read in
    pieces and joined, at the cost of one copy.

    Raises:
        ConnectorIOError: The file shrank while being read (someone truncated it).
    """
    size = os.fstat(fd).st_size
    if not size:
        return b""
    data = os.read(fd, size)
    if len(data) == size:
        return data
    pieces = [data]
    filled = len(data)
    while filled < size:
        piece = os.read(fd, size - filled)
        if not piece:
            raise ConnectorIOError(
                f"object file {name!r} shrank while being read: another program truncated it"
            )
        pieces.append(piece)
        filled += len(piece)
    return b"".join(pieces)
