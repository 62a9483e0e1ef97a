"""Flat byte views of the bytes-like values connectors and shims are given, without copies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

__all__ = ["BytesLike", "as_message", "byte_view", "flat_buffer", "flat_buffers", "nbytes"]

BytesLike: TypeAlias = bytes | bytearray | memoryview
"""Bytes a connector or shim accepts; memoryviews avoid copies of large objects."""


def byte_view(data: BytesLike) -> memoryview:
    """Return a flat, contiguous, one-byte-per-item view of ``data``.

    Nothing is copied unless ``data`` is a non-contiguous memoryview (which
    cannot be written in one go); a view of wider items (``array('d')``, a
    numpy array) is recast so that its length counts bytes.

    Example:
        ```python
        from array import array
        from proxyflow.api import byte_view

        assert len(byte_view(array("d", [1.0, 2.0]))) == 16
        ```
    """
    view = memoryview(data)
    if not view.c_contiguous:
        return memoryview(view.tobytes())
    if view.format != "B" or view.ndim != 1:
        return view.cast("B")
    return view


def flat_buffer(data: BytesLike) -> BytesLike:
    """Return ``data`` itself if it is ``bytes`` or ``bytearray``, else a flat view of it.

    Either way ``len()`` of the result is its size in bytes, and nothing is
    copied unless ``data`` is a non-contiguous memoryview.
    """
    kind = type(data)
    if kind is bytes or kind is bytearray:
        return data
    return byte_view(data)


def flat_buffers(datas: Sequence[BytesLike]) -> list[BytesLike]:
    """Apply [`flat_buffer`][proxyflow.api.buffers.flat_buffer] to each of ``datas``."""
    return [flat_buffer(data) for data in datas]


def nbytes(data: BytesLike) -> int:
    """Return the size of ``data`` in bytes (``len`` counts items for a memoryview)."""
    return data.nbytes if type(data) is memoryview else len(data)


def as_message(message: object) -> bytes | memoryview:
    """Check a message given to ``send_message`` and return it ready to write, uncopied.

    ``bytes`` pass through; ``bytearray`` and ``memoryview`` become flat byte
    memoryviews.

    Raises:
        TypeError: if ``message`` is not bytes-like.
        ValueError: if ``message`` is a memoryview that is not C-contiguous.
    """
    if type(message) is bytes:
        return message
    if isinstance(message, (bytes, bytearray, memoryview)):
        view = memoryview(message)
        if view.format != "B" or view.ndim != 1:
            if not view.c_contiguous:
                raise ValueError("a memoryview message must be C-contiguous")
            view = view.cast("B")
        return view
    raise TypeError(f"message must be bytes, bytearray or memoryview, not {type(message).__name__}")
