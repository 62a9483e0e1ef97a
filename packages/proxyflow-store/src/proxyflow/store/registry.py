"""The process-wide registry of named [`Store`][proxyflow.store.Store] instances.

Store-backed proxies carry a store *config*, not a store. When one resolves,
[`get_or_create_store`][proxyflow.store.registry.get_or_create_store] returns
the store registered under that name in this process (when its config matches),
or rebuilds one from the config and registers it, so each process opens one
connector per store however many proxies it resolves. A closed store leaves the
registry.

The registry sits below the store and its factories in ``proxyflow.store``'s
import order: it imports neither. It builds stores with the builder that
``proxyflow.store.store`` hands it when it is imported
([`use_store_builder`][proxyflow.store.registry.use_store_builder]), and asks a
proxy's factory for its store through the
[`StoreBackedFactory`][proxyflow.store.protocols.StoreBackedFactory] protocol.

The public functions have the names and meanings of ProxyStore's
(``register_store(store, exist_ok)``, ``get_store(name_or_proxy)``,
``unregister_store(name_or_store)``, ``get_or_create_store(config)``,
``store_registration(*stores)``).

Examples:
    >>> from proxyflow.store import Store, get_store, register_store, unregister_store
    >>> from proxyflow.connectors.local import LocalConnector  # doctest: +SKIP
    >>> store = Store("demo", LocalConnector())  # doctest: +SKIP
    >>> register_store(store)  # doctest: +SKIP
    >>> get_store("demo") is store  # doctest: +SKIP
    True
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from proxyflow.proxy import Proxy, get_factory
from proxyflow.serialize import Deserializer
from proxyflow.store.config import StoreConfig
from proxyflow.store.exceptions import NotAStoreProxyError, StoreClosedError, StoreExistsError
from proxyflow.store.protocols import StoreBackedFactory

if TYPE_CHECKING:  # typing only: at run time the registry never imports the store module
    from proxyflow.store.store import Store

__all__ = [
    "StoreBuilder",
    "discard_store",
    "get_or_create_store",
    "get_store",
    "register_store",
    "store_registration",
    "unregister_store",
    "use_store_builder",
]

StoreBuilder = Callable[[StoreConfig, "Deserializer | None"], "Store"]
"""Builds a new, unregistered store from a config and an optional deserializer."""

_lock = threading.RLock()
_stores: dict[str, Store] = {}
# Configs that were asked for -> the store built for them (a connector may
# normalise its options, so the built store's own config can differ slightly).
_built: dict[str, Store] = {}
_builder: list[StoreBuilder] = []


def use_store_builder(builder: StoreBuilder) -> None:
    """Make ``builder`` the function that builds the stores `get_or_create_store` returns.

    ``proxyflow.store.store`` calls it once with
    ``lambda config, deserializer: Store.from_config(config, deserializer=deserializer)``
    when it is imported (importing any part of ``proxyflow.store`` imports
    it), so applications never need to.

    Args:
        builder: Returns a new, unregistered store for a config.
    """
    with _lock:
        _builder[:] = [builder]


def register_store(store: Store, exist_ok: bool = False) -> None:
    """Register ``store`` under its name.

    Registering the instance that already holds the name does nothing.

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


def get_store(val: str | Proxy[Any]) -> Store | None:
    """Return the store registered as ``val``, or the store of the proxy ``val``.

    Given a proxy, the proxy is **not** resolved: its factory names its store
    (the store that made it, while that store is open, else the store
    registered for its config, built and registered if needed).

    Args:
        val: A store name, or a store-backed proxy.

    Returns:
        The store, or ``None`` if no store is registered under the name.

    Raises:
        NotAStoreProxyError: If ``val`` is a proxy whose factory reads no store.
        TypeError: If ``val`` is neither a ``str`` nor a proxy.
    """
    if issubclass(type(val), Proxy):  # type(): isinstance() would ask the proxy's __class__
        factory = get_factory(val)  # type: ignore[arg-type]
        if not isinstance(factory, StoreBackedFactory):
            raise NotAStoreProxyError(
                f"the factory of this proxy ({type(factory).__name__}) reads no store; "
                "get_store() takes a store name or a proxy made by a Store"
            )
        store: Store = factory.get_store()
        return store
    if not isinstance(val, str):
        raise TypeError(f"get_store() takes a store name or a proxy, not {type(val).__name__}")
    with _lock:
        return _stores.get(val)


def unregister_store(name_or_store: str | Store) -> Store | None:
    """Remove the store registered under a name, or under the name of the store given.

    The store is not closed. Unregistering a name nobody holds does nothing.

    Args:
        name_or_store: A store name, or a store (its name is used).

    Returns:
        The store that was registered under that name, or ``None``.
    """
    name = name_or_store if isinstance(name_or_store, str) else name_or_store.name
    with _lock:
        store = _stores.pop(name, None)
        if store is not None:
            _forget_built(store)
        return store


def discard_store(store: Store) -> None:
    """Unregister ``store`` if it is the instance registered under its name.

    Unlike [`unregister_store`][proxyflow.store.registry.unregister_store],
    another instance registered under the same name is left alone. A store
    calls this when it closes.
    """
    with _lock:
        if _stores.get(store.name) is store:
            del _stores[store.name]
        _forget_built(store)


@contextlib.contextmanager
def store_registration(*stores: Store, exist_ok: bool = False) -> Iterator[None]:
    """Register ``stores`` for the duration of a ``with`` block, then unregister them.

    Args:
        stores: The stores.
        exist_ok: Passed to [`register_store`][proxyflow.store.registry.register_store].

    Raises:
        StoreExistsError: If a name is taken by another instance and
            ``exist_ok`` is false.

    Example:
        ```python
        with store_registration(store):
            assert get_store(store.name) is store
        ```
    """
    for store in stores:
        register_store(store, exist_ok=exist_ok)
    try:
        yield
    finally:
        for store in stores:
            unregister_store(store)


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
        if not _builder:  # pragma: no cover - importing proxyflow.store installs it
            raise RuntimeError("no store builder: import proxyflow.store")
        store = _builder[0](cfg, deserializer)
        if register:
            if current is not None:
                _forget_built(current)
            _stores[cfg.name] = store
            _built[cfg.cache_key] = store
        return store


def _forget_built(store: Store) -> None:
    for key in [k for k, s in _built.items() if s is store]:
        del _built[key]
