"""Finding the store an event points at, and reading objects from it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from proxyflow.store import Store, get_or_create_store, get_store
from proxyflow.stream._closing import close_stores
from proxyflow.stream._decode import StoredItem
from proxyflow.stream._wire import decode_store_config
from proxyflow.stream.exceptions import ConnectorNotAllowedError, StreamObjectMissingError

__all__ = ["MISSING", "StoreResolver", "fetch"]

MISSING = object()
"""The default a store read returns for a key without an object."""


class StoreResolver:
    """Turns the packed store config of an event into a `Store`, once per distinct config.

    A config is looked up in ``store_overrides`` by store name first, else
    built (or found registered in this process) by
    [`get_or_create_store`][proxyflow.store.get_or_create_store] after its
    connector kind was checked against ``allowed_connectors``. Stores are
    cached by the config bytes, so later events of the same store cost one
    dictionary lookup (`cache`). This is the place for a policy on which
    stores an event may point at.

    Not thread-safe: the consumer calls it under its lock.

    Args:
        allowed_connectors: Connector kinds stores may be built for; ``None``
            allows every installed kind. Overrides are always allowed.
        store_overrides: Store name -> store to use instead of building one.
    """

    __slots__ = ("_allowed", "_overrides", "_owned", "cache")

    def __init__(
        self,
        allowed_connectors: Collection[str] | None,
        store_overrides: Mapping[str, Store] | None,
    ) -> None:
        self._allowed = None if allowed_connectors is None else frozenset(allowed_connectors)
        self._overrides = dict(store_overrides or {})
        self._owned: dict[int, Store] = {}
        self.cache: dict[bytes, Store] = {}
        """Packed config -> store, for the lookups of the hot path."""

    def store(self, config_bytes: bytes) -> Store:
        """Return the store of a packed config, building it on first use.

        Raises:
            EventDecodeError: If the bytes are not a packed store config.
            ConnectorNotAllowedError: If its connector kind is not allowed.
            proxyflow.store.StoreError: What building the store raises (for
                example ``UnknownConnectorError`` for a kind not installed).
        """
        store = self.cache.get(config_bytes)
        if store is not None:
            return store
        config = decode_store_config(config_bytes)
        store = self._overrides.get(config.name)
        if store is None:
            if self._allowed is not None and config.connector not in self._allowed:
                raise ConnectorNotAllowedError(
                    f"store {config.name!r} uses connector {config.connector!r}, "
                    f"not in allowed_connectors {sorted(self._allowed)}"
                )
            existing = get_store(config.name)
            store = get_or_create_store(config)
            if store is not existing:
                # Built here: closing the consumer may close it. A store that was
                # already registered (say, a producer's in this process) is not ours.
                self._owned.setdefault(id(store), store)
        self.cache[config_bytes] = store
        return store

    def close_owned(self) -> None:
        """Close the stores this resolver built (their data stays) and forget them."""
        owned = list(self._owned.values())
        self._owned.clear()
        close_stores(owned)


def fetch(store: Store, item: StoredItem) -> Any:
    """Read (and, as the event asks, evict) a stored item's object.

    Raises:
        StreamObjectMissingError: If the key holds no object.
    """
    value = store.get(item.key, default=MISSING, evict=item.evict)
    if value is MISSING:
        raise StreamObjectMissingError(item.key, store.name)
    return value
