"""The deterministic data chunks the demo streams, and their checksums.

Chunk ``i`` holds ``size`` pseudo-random bytes drawn from a generator seeded
with ``i``, so any process can rebuild the chunk it expects and compare
checksums without the chunk ever travelling to it.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

__all__ = ["checksum", "make_chunk"]


def make_chunk(index: int, size: int) -> npt.NDArray[np.uint8]:
    """Return chunk ``index``: ``size`` bytes that depend only on ``index`` and ``size``.

    Args:
        index: Position of the chunk in the stream (the RNG seed).
        size: Number of bytes (and of ``uint8`` elements).

    Examples:
        >>> bool((make_chunk(3, 16) == make_chunk(3, 16)).all())
        True
    """
    rng = np.random.default_rng(index)
    return np.frombuffer(rng.bytes(size), dtype=np.uint8)


def checksum(chunk: npt.NDArray[np.uint8]) -> str:
    """Return a short hex digest of the chunk's bytes (BLAKE2b, 16 bytes).

    Examples:
        >>> len(checksum(make_chunk(0, 8)))
        32
    """
    return hashlib.blake2b(np.ascontiguousarray(chunk).data, digest_size=16).hexdigest()
