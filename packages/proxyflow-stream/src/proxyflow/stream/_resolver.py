"""Finding the store an event points at, and reading objects from it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from proxyflow.store import (
    CheckedDeserializer,
    ContentDigestError,
    Store,
    get_or_create_store,
    get_store,
)
from proxyflow.stream._closing import close_stores
from proxyflow.stream._decode import StoredItem
from proxyflow.stream._wire import decode_store_config
from proxyflow.stream.exceptions import (
    ConnectorNotAllowedError,
    StreamObjectMissingError,
    TamperedObjectError,
)
from proxyflow.stream.trust import TrustPolicy

__all__ = ["MISSING", "StoreResolver", "fetch", "fetch_async"]

MISSING = object()
"""The default a store read returns for a key without an object."""


class StoreResolver:
    """Turns the packed store config of an event into a `Store`, once per distinct config.

    A config is looked up in ``store_overrides`` by store name first; else
    its connector kind is checked against ``allowed_connectors``, the
    consumer's [`TrustPolicy`][proxyflow.stream.trust.TrustPolicy] admits
    its location (and replaces its client settings), and the store is built
    (or found registered in this process) by
    [`get_or_create_store`][proxyflow.store.get_or_create_store]. Stores are
    cached by the config bytes, so later events of the same store cost one
    dictionary lookup (`cache`).

    Not thread-safe: the consumer calls it under its lock.

    Args:
        allowed_connectors: Connector kinds stores may be built for; ``None``
            allows every installed kind. Overrides are always allowed.
        store_overrides: Store name -> store to use instead of building one.
        policy: Which locations events may name; default: a policy reading
            ``PROXYFLOW_TRUSTED_LOCATIONS``, for unsigned events.
    """

    __slots__ = ("_allowed", "_overrides", "_owned", "_policy", "cache")

    def __init__(
        self,
        allowed_connectors: Collection[str] | None,
        store_overrides: Mapping[str, Store] | None,
        policy: TrustPolicy | None = None,
    ) -> None:
        self._allowed = None if allowed_connectors is None else frozenset(allowed_connectors)
        self._overrides = dict(store_overrides or {})
        self._policy = TrustPolicy(None, signed=False) if policy is None else policy
        self._owned: dict[int, Store] = {}
        self.cache: dict[bytes, Store] = {}
        """Packed config -> store, for the lookups of the hot path."""

    def store(self, config_bytes: bytes) -> Store:
        """Return the store of a packed config, building it on first use.

        Raises:
            EventDecodeError: If the bytes are not a packed store config.
            ConnectorNotAllowedError: If its connector kind is not allowed.
            UntrustedLocationError: If the policy does not trust its location.
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
            admitted = self._policy.admit(config)
            if isinstance(admitted, Store):
                store = admitted
            else:
                existing = get_store(config.name)
                store = get_or_create_store(admitted)
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

    A signed item's bytes are checked against its digest before they are
    deserialized.

    Raises:
        StreamObjectMissingError: If the key holds no object.
        TamperedObjectError: If the bytes do not match the item's digest.
    """
    try:
        value = store.get(
            item.key, default=MISSING, evict=item.evict, deserializer=_checked(store, item)
        )
    except ContentDigestError as exc:
        raise _tampered(store, item, exc) from exc
    return _found(store, item, value)


async def fetch_async(store: Store, item: StoredItem) -> Any:
    """`fetch` awaited: on the running loop when the store's connector can read there.

    See [`Store.get_async`][proxyflow.store.store.Store.get_async]; a file
    store reads in a worker thread.

    Raises:
        StreamObjectMissingError: If the key holds no object.
        TamperedObjectError: If the bytes do not match the item's digest.
    """
    try:
        value = await store.get_async(
            item.key, default=MISSING, evict=item.evict, deserializer=_checked(store, item)
        )
    except ContentDigestError as exc:
        raise _tampered(store, item, exc) from exc
    return _found(store, item, value)


def _checked(store: Store, item: StoredItem) -> CheckedDeserializer | None:
    """The deserializer that checks a signed item's digest (``None``: the store's own, cached)."""
    return None if item.digest is None else CheckedDeserializer(store.deserializer, item.digest)


def _tampered(store: Store, item: StoredItem, error: ContentDigestError) -> TamperedObjectError:
    return TamperedObjectError(f"object {item.key!r} of store {store.name!r}: {error}")


def _found(store: Store, item: StoredItem, value: Any) -> Any:
    if value is MISSING:
        raise StreamObjectMissingError(item.key, store.name)
    return value
