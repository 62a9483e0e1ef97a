"""The type parameter of `StreamProducer` and `StreamConsumer`."""

from __future__ import annotations

import sys
from typing import Any

if sys.version_info >= (3, 13):
    from typing import TypeVar
else:
    from typing_extensions import TypeVar

__all__ = ["T"]

T = TypeVar("T", default=Any)
"""The type of the objects of a stream.

It defaults to ``Any`` (PEP 696), so ``StreamConsumer(subscriber)`` needs no
annotation while ``StreamConsumer[str](subscriber)`` lets a type checker
check what is sent and read.
"""
