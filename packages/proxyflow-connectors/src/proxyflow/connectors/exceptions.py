"""Errors raised by the proxyflow connectors.

Every error derives from [`ConnectorError`][proxyflow.connectors.exceptions.ConnectorError],
and each one also derives from the built-in exception a caller would naturally
catch (``ConnectionError``, ``OSError``, ``ValueError``, ``ImportError``,
``LookupError``), so code that knows nothing about proxyflow still handles them
sensibly.

Hierarchy:

```text
ConnectorError
 ├── ConnectorConnectionError       (also ConnectionError)
 ├── StoreDirectoryError            (also OSError)
 ├── InvalidKeyError                (also ValueError)
 ├── InvalidConfigError             (also ValueError)
 ├── MissingDependencyError         (also ImportError)
 └── UnknownConnectorInstanceError  (also LookupError)
```
"""

from __future__ import annotations

__all__ = [
    "ConnectorConnectionError",
    "ConnectorError",
    "InvalidConfigError",
    "InvalidKeyError",
    "MissingDependencyError",
    "StoreDirectoryError",
    "UnknownConnectorInstanceError",
]


class ConnectorError(Exception):
    """Base class of every error raised by ``proxyflow.connectors``."""


class ConnectorConnectionError(ConnectorError, ConnectionError):
    """The storage server could not be reached or stopped answering.

    Raised by [`RedisConnector`][proxyflow.connectors.redis.RedisConnector] when a
    connection cannot be opened within ``connect_timeout`` or a reply does not
    arrive within ``socket_timeout``. The message names the server URL with any
    password removed.
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
    """A config passed to ``from_config`` lacks an option or holds an unknown one.

    ``from_config`` accepts exactly what ``config()`` produces, so a typo or a
    flag that is deliberately never part of a config (such as
    ``clear_on_close``) is reported instead of being silently ignored.
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
