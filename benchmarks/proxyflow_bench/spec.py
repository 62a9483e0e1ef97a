"""What a benchmark run measures: systems, configurations, sizes and trial parameters."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from proxyflow.cli.exceptions import InvalidOptionError
from proxyflow.cli.options import parse_size as cli_parse_size

__all__ = [
    "CONFIGS",
    "DEFAULT_CONFIGS",
    "DEFAULT_SIZES",
    "KINDS",
    "SYSTEMS",
    "Config",
    "TrialSpec",
    "format_size",
    "parse_size",
    "parse_sizes",
    "window_for",
]

KiB = 1024
MiB = 1024 * 1024


@dataclass(frozen=True)
class Config:
    """One broker + store combination.

    Attributes:
        name: Short name used on the command line and in the JSON (``"zmq-file"``).
        broker: ``"zmq"``, ``"redis"`` (pub/sub), ``"redisq"`` (list queue) or ``"queue"``
            (a `multiprocessing` queue).
        store: ``"inline"`` (the object travels in the event), ``"file"`` or ``"redis"``.
        title: Human-readable description.
    """

    name: str
    broker: str
    store: str
    title: str


CONFIGS: dict[str, Config] = {
    c.name: c
    for c in (
        Config("zmq-inline", "zmq", "inline", "ZeroMQ PUB/SUB, object inline"),
        Config("zmq-file", "zmq", "file", "ZeroMQ PUB/SUB + file store"),
        Config("redis-inline", "redis", "inline", "Redis pub/sub, object inline"),
        Config("redis-redis", "redis", "redis", "Redis pub/sub + Redis store"),
        Config("redis-file", "redis", "file", "Redis pub/sub + file store"),
        Config("redisq-redis", "redisq", "redis", "Redis list queue + Redis store"),
        Config("queue-file", "queue", "file", "multiprocessing queue + file store"),
    )
}
"""Every configuration the harness knows, by name."""

DEFAULT_CONFIGS = (
    "zmq-inline",
    "zmq-file",
    "redis-redis",
    "redis-file",
    "redisq-redis",
    "queue-file",
    "redis-inline",
)
"""Configurations of a default run (``redis-inline`` is the raw Redis pub/sub reference)."""

SYSTEMS = ("raw", "proxyflow", "proxystore")
"""The systems compared; ``raw`` is the hand-written baseline of each configuration."""

KINDS = ("bytes", "numpy")
"""Payload kinds: a ``bytes`` object or a float64 numpy array of the same size."""

DEFAULT_SIZES = (1 * KiB, 64 * KiB, 1 * MiB, 16 * MiB)
"""Object sizes of a default run, in bytes."""

NUMPY_MIN_SIZE = 1 * MiB
"""Numpy arrays are measured only from this size up (small arrays say nothing new)."""

IN_FLIGHT_BYTES = 32 * MiB
"""Bytes the producer may have sent but not seen consumed (the flow-control window)."""


def parse_size(text: str) -> int:
    """Parse ``"64KiB"``, ``"1MiB"``, ``"512"`` into a number of bytes.

    The syntax is the ``proxyflow`` command's (`proxyflow.cli.options.parse_size`:
    ``KiB``/``K`` are powers of 1024, ``KB`` powers of 1000).

    Raises:
        ValueError: If the text is not a size, or is below 8 bytes.
    """
    try:
        size = cli_parse_size(text)
    except InvalidOptionError as exc:
        raise ValueError(str(exc)) from None
    if size < 8:
        raise ValueError(f"size must be at least 8 bytes, got {text!r}")
    return size


def parse_sizes(text: str) -> tuple[int, ...]:
    """Parse a comma-separated list of sizes."""
    return tuple(parse_size(part) for part in text.split(",") if part.strip())


def format_size(size: int) -> str:
    """Format a byte count the way the tables show it (``1 KiB``, ``16 MiB``)."""
    for unit, factor in (("GiB", 1024 * MiB), ("MiB", MiB), ("KiB", KiB)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} B"


def window_for(size: int) -> tuple[int, int]:
    """Return ``(window, ack_every)`` for objects of ``size`` bytes.

    The producer never has more than ``window`` objects sent but not yet
    acknowledged; the consumer acknowledges every ``ack_every`` objects.
    """
    window = max(2, min(128, IN_FLIGHT_BYTES // max(size, 1)))
    return window, max(1, window // 4)


@dataclass
class TrialSpec:
    """Parameters of one measured trial, sent to both processes of a pair.

    Attributes:
        kind: ``"bytes"`` or ``"numpy"``.
        size: Object size in bytes.
        window: Flow-control window (objects in flight).
        ack_every: The consumer acknowledges every this many data objects.
        warm: Warm-up objects (not measured; also used to choose ``count``).
        target_s: Aimed duration of the throughput phase, in seconds.
        min_count: Fewest measured objects.
        max_count: Most measured objects.
        count: A fixed number of measured objects (``0``: choose adaptively).
        latency_count: Objects of the unloaded latency phase (``0``: choose from ``count``).
        profile: Path prefix for cProfile output of the measured loops (``""``: off).
        seed: Seed of the payload contents.
    """

    kind: str
    size: int
    window: int
    ack_every: int
    warm: int = 8
    target_s: float = 0.3
    min_count: int = 20
    max_count: int = 2000
    count: int = 0
    latency_count: int = 0
    profile: str = ""
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as a JSON-serializable dict."""
        return asdict(self)
