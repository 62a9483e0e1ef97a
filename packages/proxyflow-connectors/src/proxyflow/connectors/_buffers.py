"""Flat byte views of the bytes-like objects connectors accept."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["byte_view", "flat_buffer", "flat_buffers"]

FlatBuffer = bytes | bytearray | memoryview
"""A buffer whose ``len()`` is its size in bytes."""


def byte_view(data: bytes | bytearray | memoryview) -> memoryview:
    """Return a flat, contiguous ``"B"`` view of ``data`` without copying when possible.

    Only a non-contiguous memoryview is copied (it cannot be written in one go).
    """
    view = memoryview(data)
    if not view.c_contiguous:
        return memoryview(view.tobytes())
    if view.format != "B" or view.ndim != 1:
        return view.cast("B")
    return view


def flat_buffer(data: bytes | bytearray | memoryview) -> FlatBuffer:
    """Return ``data`` itself if it is ``bytes``/``bytearray``, else a flat view of it.

    Either way ``len()`` of the result is its size in bytes, and nothing is
    copied unless ``data`` is a non-contiguous memoryview.
    """
    kind = type(data)
    if kind is bytes or kind is bytearray:
        return data
    return byte_view(data)


def flat_buffers(datas: Sequence[bytes | bytearray | memoryview]) -> list[FlatBuffer]:
    """Apply `flat_buffer` to each of ``datas``."""
    return [flat_buffer(data) for data in datas]
