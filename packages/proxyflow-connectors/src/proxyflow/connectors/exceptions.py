"""Errors raised by the proxyflow connectors.

Every error derives from [`ConnectorError`][proxyflow.connectors.exceptions.ConnectorError]
(itself a [`ProxyflowError`][proxyflow.api.exceptions.ProxyflowError]). A failure
of the storage itself also derives from the matching class of
[`proxyflow.api.exceptions`][proxyflow.api.exceptions], which every connector
and broker shim reports the same way, and through it from the built-in
exception a caller would naturally catch. No error of redis-py and no raw
``OSError`` leaves a connector's public methods: they are all translated to
these classes, with a message that says what to do.

Hierarchy:

```text
ConnectorError                          (a ProxyflowError)
 ├── ConnectorConnectionError           BackendUnavailableError (ConnectionError)
 │                                      the server or the directory cannot be reached
 ├── ConnectorTimeoutError              BackendTimeoutError (TimeoutError)
 │                                      no answer within the configured time
 ├── ConnectorAuthenticationError       BackendAuthenticationError (PermissionError)
 │                                      credentials missing or refused, permission denied
 ├── ConnectorFullError                 BackendFullError
 │                                      disk full, quota exceeded, Redis maxmemory
 ├── ConnectorObjectTooLargeError       ObjectTooLargeError (ValueError)
 │                                      one object over the backend's limit
 ├── ConnectorProtocolError             BackendProtocolError
 │                                      not a Redis server, no such database, a replica...
 ├── ConnectorIOError                   BackendError (OSError)
 │                                      any other failure of the storage (an I/O error)
 ├── StoreDirectoryError                (also OSError) unusable store directory, at construction
 ├── InvalidKeyError                    (also ValueError)
 ├── InvalidConfigError                 (also ValueError)
 ├── MissingDependencyError             (also ImportError)
 └── UnknownConnectorInstanceError      (also LookupError)
```

Writes are all or nothing: when ``put``, ``put_parts`` or ``put_batch`` raises,
the objects it stored are removed again. If that cleanup fails too (the
backend is failing), the error's
[`leftover_keys`][proxyflow.connectors.exceptions.ConnectorError.leftover_keys]
lists the keys that may remain, and its message names them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from proxyflow.api.exceptions import (
    BackendAuthenticationError,
    BackendError,
    BackendFullError,
    BackendProtocolError,
    BackendTimeoutError,
    BackendUnavailableError,
    ObjectTooLargeError,
    ProxyflowError,
)

__all__ = [
    "ConnectorAuthenticationError",
    "ConnectorConnectionError",
    "ConnectorError",
    "ConnectorFullError",
    "ConnectorIOError",
    "ConnectorObjectTooLargeError",
    "ConnectorProtocolError",
    "ConnectorTimeoutError",
    "InvalidConfigError",
    "InvalidKeyError",
    "MissingDependencyError",
    "StoreDirectoryError",
    "UnknownConnectorInstanceError",
    "record_leftover_keys",
]


class ConnectorError(ProxyflowError):
    """Base class of every error raised by ``proxyflow.connectors``."""

    leftover_keys: tuple[Any, ...] = ()
    """Keys a failed write may have left stored because removing them failed too.

    Empty unless the message says otherwise; set on the instance when it is not.
    """


class ConnectorConnectionError(ConnectorError, BackendUnavailableError):
    """The storage cannot be reached: a server refuses or drops connections, a directory is gone.

    The message names the server URL (password hidden) or the path.
    """


class ConnectorTimeoutError(ConnectorError, BackendTimeoutError):
    """The storage did not answer within the configured time.

    Raised by [`RedisConnector`][proxyflow.connectors.redis.RedisConnector]
    when connecting takes longer than ``connect_timeout`` or a reply longer
    than ``socket_timeout``; the message names both settings.
    """


class ConnectorAuthenticationError(ConnectorError, BackendAuthenticationError):
    """Credentials are missing or refused, or this process may not touch the data.

    The message names the setting to use: the password in the URL or the
    environment variable (``PROXYFLOW_REDIS_PASSWORD`` or the ``password_env``
    option) for Redis, the directory's permissions for files.
    """


class ConnectorFullError(ConnectorError, BackendFullError):
    """The storage has no room: the disk or a quota is full, or Redis reached ``maxmemory``."""


class ConnectorObjectTooLargeError(ConnectorError, ObjectTooLargeError):
    """One object is larger than the storage accepts.

    Redis refuses values over ``proto-max-bulk-len`` (512 MiB by default); a
    file system refuses files over its size limit (``EFBIG``).
    """


class ConnectorProtocolError(ConnectorError, BackendProtocolError):
    """The server is not what was expected: not a Redis server, no such database, a replica."""


class ConnectorIOError(ConnectorError, BackendError, OSError):
    """Any other failure of the storage, such as an I/O error of the disk.

    ``errno`` is that of the underlying ``OSError`` when there was one.
    """


class StoreDirectoryError(ConnectorError, OSError):
    """The directory given to a file connector is unusable.

    Raised by [`FileConnector`][proxyflow.connectors.file.FileConnector] at construction
    when the path exists but is not a directory, cannot be created, or is not
    writable by this process. The message names the path.
    """


class InvalidKeyError(ConnectorError, ValueError):
    """A key is not one a connector could have created.

    Connectors reject malformed keys (wrong type, path separators, ``..``,
    absolute paths, ...) instead of touching storage they do not own.
    """


class InvalidConfigError(ConnectorError, ValueError):
    """A config or an option is invalid.

    ``from_config`` accepts exactly what ``config()`` produces, so a typo or a
    flag that is deliberately never part of a config (such as
    ``clear_on_close``) is reported instead of being silently ignored. A
    ProxyStore option whose meaning proxyflow does not copy because it deletes
    shared data (``clear=True``) is refused with a message naming the change.
    """


class MissingDependencyError(ConnectorError, ImportError):
    """An optional dependency a connector needs is not installed.

    The message names the ``pip install`` command that adds it.
    """


class UnknownConnectorInstanceError(ConnectorError, LookupError):
    """``LocalConnector.from_config`` names no live connector of this process.

    A local connector's data lives in the memory of the process that created
    it; its config can only be used in that same process, while at least one
    connector sharing that data is still alive.
    """


def record_leftover_keys(error: ConnectorError, keys: Sequence[Any]) -> None:
    """Record on ``error`` (and in its message) the keys a failed write could not remove.

    Args:
        error: The error about to be raised.
        keys: Keys that may still hold objects of the failed write.
    """
    if not keys:
        return
    error.leftover_keys = (*error.leftover_keys, *keys)
    message = str(error.args[0]) if error.args else type(error).__name__
    error.args = (
        f"{message}; removing what this write had stored failed too, so these keys "
        f"may remain: {list(keys)!r}",
        *error.args[1:],
    )
