"""What the Redis read benchmarks share: their command line and how they print a rate.

``asyncio_resolve`` and ``asyncio_consume`` take the same options (sizes,
count, repeat, Redis URL) and print each form's objects per second as the
best of the repeats with the slowest in parentheses.
"""

from __future__ import annotations

import argparse
from typing import NamedTuple

__all__ = ["RedisRateArgs", "cell", "parse_args"]


class RedisRateArgs(NamedTuple):
    """The checked options of a Redis read benchmark (``objects``: the ``--count``)."""

    sizes: list[int]
    objects: int
    repeat: int
    redis_url: str


def parse_args(description: str, argv: list[str] | None) -> RedisRateArgs:
    """Parse ``--sizes --count --repeat --redis-url``; exits with a message when one is bad."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sizes", default="1024,1048576", help="comma-separated bytes")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--redis-url", default="redis://localhost:6379/0")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.count < 1 or args.repeat < 1 or min(sizes) < 1:
        parser.error("--count, --repeat and every size must be at least 1")
    return RedisRateArgs(sizes, args.count, args.repeat, args.redis_url)


def cell(values: list[float]) -> str:
    """Best and slowest of the repeats."""
    return f"{max(values):,.0f} ({min(values):,.0f})"
