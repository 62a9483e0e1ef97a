"""Creation and validation of the string keys used by the built-in connectors."""

from __future__ import annotations

import re
import uuid
from typing import Any

from proxyflow.connectors.exceptions import InvalidKeyError

__all__ = ["check_key", "new_key"]

_KEY_PATTERN = re.compile(r"[0-9A-Za-z_-]{1,128}")


def new_key() -> str:
    """Return a fresh key: 32 lowercase hex digits of a random UUID."""
    return uuid.uuid4().hex


def check_key(key: Any) -> str:
    """Return ``key`` if it is a well-formed key, else raise :class:`InvalidKeyError`.

    A well-formed key is a ``str`` of 1 to 128 ASCII letters, digits, ``_`` or
    ``-``: it can never name a path outside a store directory, a hidden file or
    a Redis key outside the connector's prefix.
    """
    if not isinstance(key, str) or _KEY_PATTERN.fullmatch(key) is None:
        raise InvalidKeyError(
            f"invalid connector key {key!r}: expected a str of 1-128 characters "
            "from [0-9A-Za-z_-] as returned by put()"
        )
    return key
