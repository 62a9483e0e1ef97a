"""Translation of redis-py's errors into typed connector errors that say what to do."""

from __future__ import annotations

from types import ModuleType
from typing import NamedTuple

from proxyflow.connectors.exceptions import (
    ConnectorAuthenticationError,
    ConnectorConnectionError,
    ConnectorError,
    ConnectorFullError,
    ConnectorObjectTooLargeError,
    ConnectorProtocolError,
    ConnectorTimeoutError,
)

__all__ = ["DEFAULT_MAX_BULK", "RedisTarget", "is_too_large_reply", "too_large", "translate"]

DEFAULT_MAX_BULK = 512 * 1024 * 1024
"""Redis's default ``proto-max-bulk-len``: the largest value a server accepts."""


class RedisTarget(NamedTuple):
    """What error messages say about the server and the connector's settings."""

    url: str
    """The server URL with its password hidden."""
    db: int
    """The database number."""
    prefix: str
    """The prefix of the connector's keys."""
    password_env: str
    """The environment variable the password is read from."""
    connect_timeout: float
    """Seconds allowed to connect."""
    socket_timeout: float
    """Seconds allowed for a reply."""


def is_too_large_reply(message: str) -> bool:
    """Whether a Redis error reply says a value was over ``proto-max-bulk-len``."""
    text = message.lower()
    return "invalid bulk length" in text or "exceeds maximum allowed size" in text


def too_large(target: RedisTarget, size: int, limit: int | None) -> ConnectorObjectTooLargeError:
    """The error for an object of ``size`` bytes over the server's limit (``None``: unknown)."""
    shown = f"{limit} bytes" if limit is not None else "its proto-max-bulk-len"
    return ConnectorObjectTooLargeError(
        f"an object of {size} bytes is larger than the Redis server at {target.url} accepts "
        f"({shown}; 512 MiB by default): raise proto-max-bulk-len on the server, or store "
        "objects this large with another connector (the file connector has no such limit); "
        "nothing of this write was kept",
        target.url,
    )


def translate(redis: ModuleType, exc: Exception, target: RedisTarget) -> ConnectorError:
    """Return the typed connector error for an error of redis-py (or of the socket).

    Args:
        redis: The ``redis`` module (an optional dependency, imported by the caller).
        exc: The error to translate.
        target: The server and settings, for the message.
    """
    errors = redis.exceptions
    url = target.url
    message = str(exc)
    lowered = message.lower()
    if isinstance(exc, errors.TimeoutError):
        return ConnectorTimeoutError(
            f"the Redis server at {url} did not answer in time (connect_timeout="
            f"{target.connect_timeout}s, socket_timeout={target.socket_timeout}s): check that "
            f"it is not overloaded or stopped, or raise the timeouts: {message}",
            url,
        )
    auth = _authentication(errors, exc, lowered, target)
    if auth is not None:
        return auth
    if isinstance(exc, _classes(errors, "OutOfMemoryError")) or "'maxmemory'" in lowered:
        return ConnectorFullError(
            f"the Redis server at {url} is full (used memory is over maxmemory and its "
            "policy evicts nothing): raise maxmemory, let readers evict objects, or "
            f"delete keys under {target.prefix!r}; nothing of this write was kept: {message}",
            url,
        )
    if is_too_large_reply(message):
        return ConnectorObjectTooLargeError(
            f"a value is larger than the Redis server at {url} accepts (proto-max-bulk-len, "
            f"512 MiB by default): raise that limit or store such objects elsewhere: {message}",
            url,
        )
    if "db index is out of range" in lowered or "invalid database" in lowered:
        return ConnectorProtocolError(
            f"the Redis server at {url} has no database {target.db}: use a database number "
            f"below its 'databases' setting (16 by default): {message}",
            url,
        )
    if isinstance(exc, _classes(errors, "ReadOnlyError")):
        return ConnectorProtocolError(
            f"the Redis server at {url} is a read-only replica: point the URL at the primary",
            url,
        )
    if isinstance(exc, _classes(errors, "AskError", "ClusterError", "ClusterDownError")) or (
        lowered.startswith(("moved ", "ask ", "clusterdown"))
    ):
        return ConnectorProtocolError(
            f"the server at {url} is a Redis Cluster node; the redis connector needs a "
            f"standalone server (or a cluster proxy): {message}",
            url,
        )
    if isinstance(exc, _classes(errors, "InvalidResponse")):
        return ConnectorProtocolError(
            f"the server at {url} does not speak the Redis protocol; check the host and port "
            f"(they may belong to another service): {message}",
            url,
        )
    if isinstance(exc, _classes(errors, "BusyLoadingError")):
        return ConnectorConnectionError(
            f"the Redis server at {url} is still loading its data set; retry shortly: {message}",
            url,
        )
    if isinstance(exc, (errors.ConnectionError, OSError)):
        return ConnectorConnectionError(
            f"the Redis server at {url} is unreachable or dropped the connection: check that "
            f"it runs and that the URL is right (connect_timeout={target.connect_timeout}s): "
            f"{message}",
            url,
        )
    return ConnectorProtocolError(f"the Redis server at {url} refused a command: {message}", url)


def _authentication(
    errors: ModuleType, exc: Exception, lowered: str, target: RedisTarget
) -> ConnectorError | None:
    """The error for a missing, refused or superfluous credential, or a denied command."""
    url = target.url
    where = (
        f"put the password in the URL (redis://:PASSWORD@host:port/db, or "
        f"redis://USER:PASSWORD@... for an ACL user) or in the environment variable "
        f"{target.password_env} (the connector's password_env option names another)"
    )
    if "noauth" in lowered or "authentication required" in lowered:
        return ConnectorAuthenticationError(
            f"the Redis server at {url} requires a password and none was given: {where}", url
        )
    if "no password is set" in lowered or "without any password configured" in lowered:
        return ConnectorAuthenticationError(
            f"a password was sent to the Redis server at {url}, which has none configured: "
            f"remove it from the URL and from {target.password_env}",
            url,
        )
    if "no permissions" in lowered or isinstance(exc, _classes(errors, "NoPermissionError")):
        return ConnectorAuthenticationError(
            f"the Redis user may not run this command or touch these keys (ACL) on {url}: "
            f"allow it to read, write and delete the keys matching {target.prefix}*: "
            f"{exc}",
            url,
        )
    if isinstance(
        exc,
        _classes(
            errors,
            "AuthenticationError",
            "AuthenticationWrongNumberOfArgsError",
            "AuthorizationError",
        ),
    ) or ("wrongpass" in lowered or "invalid password" in lowered):
        return ConnectorAuthenticationError(
            f"the Redis server at {url} refused the user name or password: {where}. "
            f"The server said: {exc!s}",
            url,
        )
    return None


def _classes(errors: ModuleType, *names: str) -> tuple[type[BaseException], ...]:
    """The exception classes of redis-py with these names that this version has."""
    found = (getattr(errors, name, None) for name in names)
    return tuple(cls for cls in found if isinstance(cls, type))
