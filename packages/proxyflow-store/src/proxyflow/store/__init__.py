"""The [`Store`][proxyflow.store.Store], its config, registries and the `Connector` protocol.

Modules import one another in one direction only: ``exceptions``, ``config``,
``protocols``, ``cache``, ``metrics`` and ``connector_registry`` import none of
the others below; ``registry`` (named stores) comes next, then ``factory``
(the [`StoreFactory`][proxyflow.store.factory.StoreFactory] of proxies, which
finds its store through the registry), then the parts of the
[`Store`][proxyflow.store.Store] (``_store_core``: state, helpers, config;
``_store_batch``: the batch paths; ``_store_proxies``: the proxy makers) and
last ``store`` (the class itself, which makes factories, and hands the
registry the function that builds a store from a config).

Examples:
    >>> from proxyflow.connectors.local import LocalConnector  # doctest: +SKIP
    >>> from proxyflow.store import Store, register_store
    >>> store = Store("demo", LocalConnector(), metrics=True)  # doctest: +SKIP
    >>> register_store(store)  # doctest: +SKIP
    >>> p = store.proxy({"x": 1})  # doctest: +SKIP
    >>> p["x"]  # doctest: +SKIP
    1
"""

from __future__ import annotations

from proxyflow.store.__about__ import __version__
from proxyflow.store.cache import LRUCache
from proxyflow.store.config import StoreConfig
from proxyflow.store.connector_registry import (
    ENTRY_POINT_GROUP,
    INSTALL_HINTS,
    available_connector_kinds,
    connector_class,
    connector_from_config,
    register_connector_class,
)
from proxyflow.store.digest import DIGEST_SIZE, CheckedDeserializer, Digested, content_digest
from proxyflow.store.exceptions import (
    ContentDigestError,
    NotAStoreProxyError,
    ObjectMissingError,
    StoreClosedError,
    StoreConfigError,
    StoreError,
    StoreExistsError,
    UnknownConnectorError,
)
from proxyflow.store.factory import StoreFactory
from proxyflow.store.factory import _sf as _sf
from proxyflow.store.factory import _sp as _sp
from proxyflow.store.metrics import OPERATIONS, StoreMetrics
from proxyflow.store.protocols import (
    BytesLike,
    Connector,
    CountingConnector,
    Key,
    StoreBackedFactory,
    VectoredConnector,
)
from proxyflow.store.registry import (
    get_or_create_store,
    get_store,
    register_store,
    store_registration,
    unregister_store,
)
from proxyflow.store.store import VECTORED_PUT_MIN_BYTES, Store

__all__ = [
    "DIGEST_SIZE",
    "ENTRY_POINT_GROUP",
    "INSTALL_HINTS",
    "OPERATIONS",
    "VECTORED_PUT_MIN_BYTES",
    "BytesLike",
    "CheckedDeserializer",
    "Connector",
    "ContentDigestError",
    "CountingConnector",
    "Digested",
    "Key",
    "LRUCache",
    "NotAStoreProxyError",
    "ObjectMissingError",
    "Store",
    "StoreBackedFactory",
    "StoreClosedError",
    "StoreConfig",
    "StoreConfigError",
    "StoreError",
    "StoreExistsError",
    "StoreFactory",
    "StoreMetrics",
    "UnknownConnectorError",
    "VectoredConnector",
    "__version__",
    "available_connector_kinds",
    "connector_class",
    "connector_from_config",
    "content_digest",
    "get_or_create_store",
    "get_store",
    "register_connector_class",
    "register_store",
    "store_registration",
    "unregister_store",
]
