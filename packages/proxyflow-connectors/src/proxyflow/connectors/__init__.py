"""Storage connectors for proxyflow stores: local, file, Redis.

Each connector moves opaque bytes and satisfies the ``Connector`` protocol of
[`proxyflow.api`][proxyflow.api.connector_protocols.Connector] structurally; connectors
import ``proxyflow.api`` (its errors, byte views, ``redact_url``,
``Closeable``) and nothing else of proxyflow. Connectors are found by their
``kind`` through the ``proxyflow.connectors`` entry-point group. Every failure
of a storage system is a typed
[`ConnectorError`][proxyflow.connectors.exceptions.ConnectorError] that also
derives from the matching ``proxyflow.api`` class (``BackendFullError``,
``BackendUnavailableError``...).

Example:
    ```python
    from proxyflow.connectors import FileConnector

    with FileConnector("/tmp/objects") as connector:
        key = connector.put(b"payload")
        assert connector.get(key) == b"payload"
    ```
"""

from __future__ import annotations

from proxyflow.connectors.__about__ import __version__
from proxyflow.connectors.exceptions import (
    ConnectorAuthenticationError,
    ConnectorConnectionError,
    ConnectorError,
    ConnectorFullError,
    ConnectorIOError,
    ConnectorObjectTooLargeError,
    ConnectorProtocolError,
    ConnectorTimeoutError,
    InvalidConfigError,
    InvalidKeyError,
    MissingDependencyError,
    StoreDirectoryError,
    UnknownConnectorInstanceError,
)
from proxyflow.connectors.file import FileConnector
from proxyflow.connectors.local import LocalConnector
from proxyflow.connectors.redis import RedisConnector

__all__ = [
    "ConnectorAuthenticationError",
    "ConnectorConnectionError",
    "ConnectorError",
    "ConnectorFullError",
    "ConnectorIOError",
    "ConnectorObjectTooLargeError",
    "ConnectorProtocolError",
    "ConnectorTimeoutError",
    "FileConnector",
    "InvalidConfigError",
    "InvalidKeyError",
    "LocalConnector",
    "MissingDependencyError",
    "RedisConnector",
    "StoreDirectoryError",
    "UnknownConnectorInstanceError",
    "__version__",
]
