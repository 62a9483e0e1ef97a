"""What the contract suites do with the messages they receive."""

from __future__ import annotations

from typing import Any

__all__ = ["as_bytes"]


def as_bytes(message: Any) -> bytes:
    """Return a received message as ``bytes``, failing the test if it is not bytes-like."""
    assert isinstance(message, (bytes, bytearray, memoryview)), (
        f"a message must be bytes-like, got {type(message).__name__}"
    )
    return bytes(message)
