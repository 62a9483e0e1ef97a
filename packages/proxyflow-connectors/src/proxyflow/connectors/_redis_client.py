"""Building a redis-py client for the Redis connector: URLs, timeouts, the reply parser."""

from __future__ import annotations

import importlib
import math
from types import ModuleType
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlsplit

from proxyflow.connectors.exceptions import InvalidConfigError, MissingDependencyError

__all__ = [
    "ParserChoice",
    "async_parser_class",
    "import_redis",
    "location_url",
    "parser_class",
    "server_url",
    "timeout_seconds",
]

ParserChoice = Literal["auto", "python", "hiredis"]
"""The reply parsers a connector may ask redis-py for."""

_SECRET_QUERY_OPTIONS = frozenset({"password"})


def import_redis() -> ModuleType:
    try:
        import redis
    except ImportError as exc:
        raise MissingDependencyError(
            "the 'redis' connector needs redis-py: pip install 'proxyflow-connectors[redis]'"
        ) from exc
    return redis


def location_url(url: str) -> str:
    """Return ``url`` without its password (user info or ``password=``), for ``config()``.

    The user name is kept: it is not a secret, and a process rebuilding the
    connector needs it to authenticate as an ACL user with a password taken
    from its own environment. (Messages show URLs with
    [`redact_url`][proxyflow.api.urls.redact_url], which marks a hidden password.)
    """
    parts = urlsplit(url)
    userinfo, at, hostinfo = parts.netloc.rpartition("@")
    netloc = parts.netloc
    if at:
        username = userinfo.split(":", 1)[0]
        netloc = f"{username}@{hostinfo}" if username else hostinfo
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = "&".join(
        f"{quote(name, safe='')}={quote(value, safe='')}"
        for name, value in pairs
        if name.lower() not in _SECRET_QUERY_OPTIONS
    )
    # Built by hand: urlunsplit drops the "//" of "unix://" URLs whose netloc is empty.
    location = f"{parts.scheme}://{netloc}{parts.path}"
    if query:
        location += f"?{query}"
    if parts.fragment:
        location += f"#{parts.fragment}"
    return location


def server_url(url: str | None, port: int | None, hostname: str | None) -> str:
    """Return the URL for ProxyStore's ``(hostname, port)`` form, or ``url`` itself."""
    if hostname is None and port is None:
        return "redis://127.0.0.1:6379/0" if url is None else url
    if hostname is not None and url is not None:
        raise InvalidConfigError("give the Redis server either as a URL or as hostname=, not both")
    host = hostname if hostname is not None else url
    if host is None or "://" in host:
        raise InvalidConfigError(
            f"RedisConnector({host!r}, {port!r}): with a port, the first argument is a host "
            "name (ProxyStore's form); give a URL alone, e.g. 'redis://host:6379/0'"
        )
    if port is None:
        port = 6379
    if not isinstance(port, int) or isinstance(port, bool):
        raise InvalidConfigError(f"the Redis port must be an int, not {port!r}")
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"redis://{shown}:{port}/0"


def timeout_seconds(name: str, value: Any) -> float:
    """Return ``value`` as a positive, finite number of seconds."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(value, bool) or not 0 < seconds < math.inf:
        raise InvalidConfigError(f"{name} must be a positive number of seconds, not {value!r}")
    return seconds


def parser_class(choice: str) -> type[Any] | None:
    """Return the redis-py parser class for ``choice`` (``None`` lets redis-py choose)."""
    if choice == "auto":
        return None
    parsers = importlib.import_module("redis._parsers")
    if choice == "python":
        python_parser: type[Any] = parsers._RESP2Parser
        return python_parser
    if choice == "hiredis":
        try:
            importlib.import_module("hiredis")
        except ImportError as exc:
            raise MissingDependencyError(
                "parser='hiredis' needs hiredis: pip install 'proxyflow-connectors[hiredis]'"
            ) from exc
        hiredis_parser: type[Any] = parsers._HiredisParser
        return hiredis_parser
    raise InvalidConfigError(f"parser must be 'auto', 'python' or 'hiredis', not {choice!r}")


def async_parser_class(choice: str) -> type[Any] | None:
    """Return the ``redis.asyncio`` parser class for ``choice`` (``None`` lets redis-py choose).

    ``choice`` was checked by [`parser_class`][proxyflow.connectors._redis_client.parser_class].
    """
    if choice == "auto":
        return None
    parsers = importlib.import_module("redis._parsers")
    chosen: type[Any] = (
        parsers._AsyncHiredisParser if choice == "hiredis" else parsers._AsyncRESP2Parser
    )
    return chosen
