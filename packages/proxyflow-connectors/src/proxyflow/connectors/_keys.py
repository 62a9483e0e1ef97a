"""Creation and validation of the string keys used by the built-in connectors.

Keys are a random per-process prefix (16 lowercase hex digits, 64 bits from
``os.urandom``, drawn once per process) followed by a per-process counter in
lowercase hex. Making a key therefore costs no system call, yet keys stay
distinct across connector instances (they share the counter), across
processes (they draw their own prefixes) and across ``fork()`` (the child
draws a new prefix, so parent and child never hand out the same key).
"""

from __future__ import annotations

import itertools
import os
import re
from typing import Any

from proxyflow.connectors.exceptions import InvalidKeyError

__all__ = ["check_key", "new_key", "new_keys"]

_KEY_PATTERN = re.compile(r"[0-9A-Za-z_-]{1,128}")
_PREFIX_BYTES = 8


class _KeySource:
    """The process-wide prefix and counter behind `new_key`."""

    __slots__ = ("counter", "prefix")

    def __init__(self) -> None:
        self.prefix = ""
        self.counter: itertools.count[int] = itertools.count()
        self.reseed()

    def reseed(self) -> None:
        """Draw a new random prefix (at import, and in the child after a ``fork()``)."""
        self.prefix = os.urandom(_PREFIX_BYTES).hex()
        self.counter = itertools.count()


_SOURCE = _KeySource()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_SOURCE.reseed)


def new_key() -> str:
    """Return a fresh key: the process prefix and the next counter value, in hex.

    ``next()`` on an ``itertools.count`` is atomic under the GIL, so concurrent
    threads never get the same key.

    Example:
        ```python
        new_key()  # e.g. '3f9c2a71d04be8550', then '3f9c2a71d04be8551', ...
        ```
    """
    source = _SOURCE
    return f"{source.prefix}{next(source.counter):x}"


def new_keys(count: int) -> list[str]:
    """Return ``count`` fresh keys (see `new_key`)."""
    source = _SOURCE
    prefix, counter = source.prefix, source.counter
    return [f"{prefix}{next(counter):x}" for _ in range(count)]


def check_key(key: Any) -> str:
    """Return ``key`` if it is a well-formed key, else raise `InvalidKeyError`.

    A well-formed key is a ``str`` of 1 to 128 ASCII letters, digits, ``_`` or
    ``-``: it can never name a path outside a store directory, a hidden file or
    a Redis key outside the connector's prefix.
    """
    if type(key) is not str or _KEY_PATTERN.fullmatch(key) is None:
        raise InvalidKeyError(
            f"invalid connector key {key!r}: expected a str of 1-128 characters "
            "from [0-9A-Za-z_-] as returned by put()"
        )
    return key
