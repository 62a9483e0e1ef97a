"""What a worker process does with one proxy: resolve it and compute on the chunk.

This module is imported by the worker processes of the demo's pool, so it
stays small and imports only what resolving and computing need.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from proxyflow.cli.chunks import checksum
from proxyflow.proxy import extract, is_resolved

__all__ = ["WorkResult", "compute", "warm_up"]


@dataclass(frozen=True)
class WorkResult:
    """The outcome of one task.

    Attributes:
        arrived_unresolved: Whether the proxy reached the worker unresolved.
        nbytes: Bytes of the chunk the worker read from the store.
        total: Sum of the chunk's bytes.
        mean: Mean of the chunk's bytes.
        digest: [`checksum`][proxyflow.cli.chunks.checksum] of the chunk.
        pid: The worker's process id.
    """

    arrived_unresolved: bool
    nbytes: int
    total: int
    mean: float
    digest: str
    pid: int


def compute(chunk: Any) -> WorkResult:
    """Resolve a proxy of a chunk and compute its sum, mean and checksum.

    Args:
        chunk: A [`Proxy`][proxyflow.proxy.Proxy] of a ``uint8`` array.

    Returns:
        What the worker found.
    """
    arrived_unresolved = not is_resolved(chunk)
    array = np.asarray(extract(chunk))
    return WorkResult(
        arrived_unresolved=arrived_unresolved,
        nbytes=int(array.nbytes),
        total=int(array.sum(dtype=np.uint64)),
        mean=float(array.mean()) if array.size else 0.0,
        digest=checksum(array),
        pid=os.getpid(),
    )


def warm_up() -> int:
    """Do nothing but make a worker process start; return its process id."""
    return os.getpid()
