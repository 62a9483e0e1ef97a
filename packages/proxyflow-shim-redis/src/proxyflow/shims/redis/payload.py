"""Normalising outgoing messages without copying them."""

from __future__ import annotations

__all__ = ["as_payload"]


def as_payload(message: bytes | bytearray | memoryview) -> bytes | memoryview:
    """Return ``message`` in a form redis-py writes without an extra copy.

    ``bytes`` pass through; ``bytearray`` and ``memoryview`` become flat,
    one-byte-per-item memoryviews (redis-py sends memoryviews and values above
    6000 bytes as separate buffers rather than joining them into its command
    buffer). A memoryview of wider items (``array('d')``, numpy) is recast so
    that its length counts bytes.

    Raises:
        TypeError: if ``message`` is not bytes-like.
        ValueError: if a memoryview is not C-contiguous.
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
