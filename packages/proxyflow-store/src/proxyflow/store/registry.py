"""The process-wide registry of named [`Store`][proxyflow.store.Store] instances.

Store-backed proxies carry a store *config*, not a store. When one resolves,
[`get_or_create_store`][proxyflow.store.registry.get_or_create_store] returns
the store registered under that name in this process (when its config matches),
or rebuilds one from the config and registers it, so each process opens one
connector per store however many proxies it resolves. A closed store leaves the
registry.

Examples:
    >>> from proxyflow.store import Store, get_store, register_store, unregister_store
    >>> from proxyflow.connectors.local import LocalConnector  # doctest: +SKIP
    >>> store = Store("demo", LocalConnector())  # doctest: +SKIP
    >>> register_store(store)  # doctest: +SKIP
    >>> get_store("demo") is store  # doctest: +SKIP
    True
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from proxyflow.serialize import Deserializer
from proxyflow.store.config import StoreConfig
from proxyflow.store.exceptions import StoreClosedError, StoreExistsError

if TYPE_CHECKING:
    from proxyflow.store.store import Store

__all__ = ["get_or_create_store", "get_store", "register_store", "unregister_store"]

_lock = threading.RLock()
_stores: dict[str, Store] = {}
# Configs that were asked for -> the store built for them (a connector may
# normalise its options, so the built store's own config can differ slightly).
_built: dict[str, Store] = {}


def register_store(store: Store, *, exist_ok: bool = False) -> None:
    """Register ``store`` under its name.

    Args:
        store: An open store.
        exist_ok: Replace another instance registered under the same name
            instead of raising.

    Raises:
        StoreExistsError: If another instance holds the name and ``exist_ok``
            is false.
        StoreClosedError: If ``store`` is closed.
    """
    if store.closed:
        raise StoreClosedError(f"cannot register the closed store {store.name!r}")
    with _lock:
        current = _stores.get(store.name)
        if current is not None and current is not store and not exist_ok:
            raise StoreExistsError(
                f"another store is already registered as {store.name!r}; "
                "unregister it first or pass exist_ok=True"
            )
        if current is not None and current is not store:
            _forget_built(current)
        _stores[store.name] = store


def get_store(name: str) -> Store | None:
    """Return the store registered as ``name``, or ``None``."""
    with _lock:
        return _stores.get(name)


def unregister_store(name: str) -> Store | None:
    """Remove and return the store registered as ``name`` (``None`` if there is none).

    The store is not closed.
    """
    with _lock:
        store = _stores.pop(name, None)
        if store is not None:
            _forget_built(store)
        return store


def get_or_create_store(
    config: StoreConfig | Mapping[str, Any],
    *,
    register: bool = True,
    deserializer: Deserializer | None = None,
) -> Store:
    """Return the registered store for ``config``, building it if needed.

    Thread-safe: concurrent callers for the same config get the same store.

    Args:
        config: The store config (or its dict form).
        register: Register a newly built store under its name. With
            ``False`` a new store is returned unregistered (the caller owns it).
        deserializer: Passed to [`Store.from_config`][proxyflow.store.store.Store.from_config]
            when a store is built (needed for configs whose serializer is
            ``"custom"``).

    Returns:
        An open store whose config matches ``config``.

    Raises:
        StoreExistsError: If ``register`` is true and an open store with a
            *different* config is registered under the same name.
        StoreConfigError: If the config is invalid.
        UnknownConnectorError: If its connector kind is not installed.
        UnknownSerializerError: If its serializer is unknown in this process.
    """
    from proxyflow.store.store import Store

    cfg = config if isinstance(config, StoreConfig) else StoreConfig.from_dict(config)
    with _lock:
        current = _stores.get(cfg.name)
        if current is not None and not current.closed:
            if _built.get(cfg.cache_key) is current or current.config() == cfg:
                return current
            if register:
                raise StoreExistsError(
                    f"a store named {cfg.name!r} is registered with a different config "
                    f"({current.config().to_json()} != {cfg.to_json()})"
                )
        store = Store.from_config(cfg, deserializer=deserializer)
        if register:
            if current is not None:
                _forget_built(current)
            _stores[cfg.name] = store
            _built[cfg.cache_key] = store
        return store


def _forget_built(store: Store) -> None:
    for key in [k for k, s in _built.items() if s is store]:
        del _built[key]


def _discard(store: Store) -> None:
    """Unregister ``store`` if it is the instance registered under its name."""
    with _lock:
        if _stores.get(store.name) is store:
            del _stores[store.name]
        _forget_built(store)
