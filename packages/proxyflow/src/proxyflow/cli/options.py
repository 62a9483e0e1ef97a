"""Parse the values of the ``proxyflow demo`` options.

Everything here is pure: parsing never touches a network or a disk, so it can
run before any process starts. Malformed values raise
[`InvalidOptionError`][proxyflow.cli.exceptions.InvalidOptionError].
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal

from proxyflow.api import redact_url
from proxyflow.cli.exceptions import InvalidOptionError

__all__ = ["BrokerSpec", "StoreSpec", "parse_broker", "parse_size", "parse_store"]

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kib": 1024,
    "kb": 1000,
    "m": 1024**2,
    "mib": 1024**2,
    "mb": 1000**2,
    "g": 1024**3,
    "gib": 1024**3,
    "gb": 1000**3,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*$")
MAX_SIZE = 1024**3
"""The largest chunk the demo accepts (1 GiB)."""


def parse_size(text: str) -> int:
    """Parse a byte count such as ``"64KiB"``, ``"1.5MiB"``, ``"2MB"`` or ``"4096"``.

    ``KiB``/``MiB``/``GiB`` (and ``K``/``M``/``G``) are powers of 1024;
    ``KB``/``MB``/``GB`` are powers of 1000. Units are case-insensitive.

    Args:
        text: The value given on the command line.

    Returns:
        The number of bytes, between 1 and 1 GiB.

    Raises:
        InvalidOptionError: if the text is not a size or is out of range.

    Examples:
        >>> parse_size("64KiB"), parse_size("1MB"), parse_size("1.5k")
        (65536, 1000000, 1536)
    """
    match = _SIZE_RE.match(text)
    if match is None or match.group(2).lower() not in _UNITS:
        raise InvalidOptionError(
            f"{text!r} is not a size; use a number with an optional unit such as 64KiB, 1MiB or 2MB"
        )
    size = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if not 1 <= size <= MAX_SIZE:
        raise InvalidOptionError(f"size {text!r} is out of range: use 1 byte to 1GiB")
    return size


@dataclass(frozen=True)
class BrokerSpec:
    """Which broker carries the events.

    ``describe()`` and ``repr()`` show the URL with its password hidden.

    Attributes:
        kind: ``"zmq"`` (an embedded ZeroMQ socket on loopback), ``"redis"``
            (Redis pub/sub) or ``"redis-queue"`` (a Redis list used as a work queue).
        url: The ``redis://`` URL of the server; empty for ``"zmq"``.
    """

    kind: Literal["zmq", "redis", "redis-queue"]
    url: str = ""

    def describe(self) -> str:
        """Return a short human-readable name of this broker (password hidden)."""
        if self.kind == "zmq":
            return "ZeroMQ (loopback)"
        label = "Redis pub/sub" if self.kind == "redis" else "Redis queue"
        return f"{label} {redact_url(self.url)}"

    def __repr__(self) -> str:
        return f"BrokerSpec(kind={self.kind!r}, url={redact_url(self.url)!r})"


@dataclass(frozen=True)
class StoreSpec:
    """Where the objects are stored.

    ``describe()`` and ``repr()`` show a Redis URL with its password hidden.

    Attributes:
        kind: ``"file"`` (a directory) or ``"redis"``.
        location: The directory (empty: a temporary one removed at the end)
            or the ``redis://`` URL.
    """

    kind: Literal["file", "redis"]
    location: str = ""

    def describe(self) -> str:
        """Return a short human-readable name of this store (password hidden)."""
        if self.kind == "redis":
            return f"Redis {redact_url(self.location)}"
        return f"files in {self.location}" if self.location else "files (temporary directory)"

    def __repr__(self) -> str:
        location = redact_url(self.location) if self.kind == "redis" else self.location
        return f"StoreSpec(kind={self.kind!r}, location={location!r})"


def _check_redis_url(url: str, option: str) -> str:
    rest = url.split("://", 1)[1]
    hostport = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    if not hostport:
        raise InvalidOptionError(
            f"{option} {redact_url(url)!r} names no host; use redis://host:port/db"
        )
    return url


def parse_broker(text: str) -> BrokerSpec:
    """Parse the ``--broker`` value.

    Args:
        text: ``"zmq"``, ``"redis://host:port/db"`` or ``"redis-queue://host:port/db"``.

    Returns:
        The broker to use.

    Raises:
        InvalidOptionError: for any other value.

    Examples:
        >>> parse_broker("redis-queue://localhost:6379/0")
        BrokerSpec(kind='redis-queue', url='redis://localhost:6379/0')
    """
    value = text.strip()
    if value.lower() == "zmq":
        return BrokerSpec("zmq")
    if value.startswith("redis://"):
        return BrokerSpec("redis", _check_redis_url(value, "--broker"))
    if value.startswith("redis-queue://"):
        url = "redis://" + value.removeprefix("redis-queue://")
        return BrokerSpec("redis-queue", _check_redis_url(url, "--broker"))
    raise InvalidOptionError(
        f"unknown broker {text!r}; use 'zmq', 'redis://host:port/db' or 'redis-queue://host:port/db'"
    )


def parse_store(text: str) -> StoreSpec:
    """Parse the ``--store`` value.

    Args:
        text: ``"file"`` (a temporary directory), ``"redis://host:port/db"`` or
            the path of a directory.

    Returns:
        The store to use.

    Raises:
        InvalidOptionError: for an empty value or a URL of an unknown scheme.

    Examples:
        >>> parse_store("file")
        StoreSpec(kind='file', location='')
    """
    value = text.strip()
    if not value:
        raise InvalidOptionError("--store is empty; use 'file', 'redis://host:port/db' or a path")
    if value.lower() == "file":
        return StoreSpec("file")
    if value.startswith("redis://"):
        return StoreSpec("redis", _check_redis_url(value, "--store"))
    if "://" in value:
        raise InvalidOptionError(
            f"unknown store {text!r}; use 'file', 'redis://host:port/db' or a directory path"
        )
    return StoreSpec("file", os.path.expanduser(value))
