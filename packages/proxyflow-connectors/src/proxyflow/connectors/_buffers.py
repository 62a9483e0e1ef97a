"""Flat byte views of the bytes-like objects connectors accept."""

from __future__ import annotations

__all__ = ["byte_view"]


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
