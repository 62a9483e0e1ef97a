"""Storage connectors for proxyflow stores: local, file, Redis.

Each connector moves opaque bytes and satisfies the ``Connector`` protocol of
``proxyflow.store`` structurally, without importing it. Connectors are found by
their ``kind`` through the ``proxyflow.connectors`` entry-point group.

Example:
    ```python
    from proxyflow.connectors import FileConnector

    connector = FileConnector("/tmp/objects")
    key = connector.put(b"payload")
    assert connector.get(key) == b"payload"
    ```
"""

from __future__ import annotations

from proxyflow.connectors.__about__ import __version__
from proxyflow.connectors.exceptions import (
    ConnectorConnectionError,
    ConnectorError,
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
    "ConnectorConnectionError",
    "ConnectorError",
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
