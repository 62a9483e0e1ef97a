"""The picklable factory behind store-backed proxies."""

from __future__ import annotations

import functools
import json
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from proxyflow.proxy import Proxy
from proxyflow.serialize import DEFAULT_SERIALIZER, get_serializer
from proxyflow.store.config import StoreConfig
from proxyflow.store.digest import CheckedDeserializer
from proxyflow.store.exceptions import ObjectMissingError, StoreConfigError
from proxyflow.store.protocols import Key
from proxyflow.store.registry import get_or_create_store

if TYPE_CHECKING:
    from proxyflow.store.store import Store

__all__ = ["StoreFactory", "reported_type"]

_MISSING: Any = object()
_DEFAULT_CACHE_SIZE = 16


class StoreFactory:
    """Reads one object from a store when called: the factory of store proxies.

    On call it reads ``key`` from its store: the store given as ``store`` while
    that store is open (what [`Store.proxy`][proxyflow.store.store.Store.proxy]
    does), else the store registered for ``config`` in this process, found or
    built by [`get_or_create_store`][proxyflow.store.get_or_create_store] (so a
    process that has never seen the store rebuilds it from ``config``).

    Its pickle is a compact tuple (the key, the config as compact JSON, the
    target type and the flags), not the object, and a proxy of it pickles
    as one call (``__proxy_reduce__``), so proxies stay small on the wire:
    about 110 bytes plus the connector options' JSON. The ``store`` binding is
    never pickled.

    Args:
        key: The connector key of the object.
        config: The config of the store holding it.
        evict: Remove the object from storage when it is read.
        target_type: The type of the object, reported by unresolved proxies.
        deserializer: A registered serializer name to read with, when the
            object was not written with the store's own serializer.
        store: The store to read from in this process while it is open; it
            is held by a weak reference.
        digest: The [`content_digest`][proxyflow.store.digest.content_digest]
            the stored bytes must have: they are checked before being
            deserialized, in every process the factory is pickled to. ``None``
            (the default) checks nothing.

    Raises:
        ObjectMissingError: When called, if nothing is stored under ``key``
            (a proxy turns it into [`ProxyResolveError`][proxyflow.proxy.ProxyResolveError]).
        ContentDigestError: When called, if ``digest`` is given and the stored
            bytes do not match it (nothing is deserialized).

    Examples:
        >>> from proxyflow.proxy import Proxy
        >>> from proxyflow.store import StoreConfig, StoreFactory
        >>> cfg = StoreConfig("data", "file", {"store_dir": "/tmp/pf"})
        >>> p = Proxy(StoreFactory("some-key", cfg, target_type=dict))
        >>> isinstance(p, dict)  # no storage access
        True
    """

    __slots__ = (
        "__weakref__",
        "_store",
        "config",
        "deserializer",
        "digest",
        "evict",
        "key",
        "target_type",
    )

    def __init__(
        self,
        key: Key,
        config: StoreConfig,
        *,
        evict: bool = False,
        target_type: type | None = None,
        deserializer: str | None = None,
        store: Store | None = None,
        digest: bytes | None = None,
    ) -> None:
        self.key = key
        self.digest = digest
        self.config = config
        self.evict = evict
        self.target_type = target_type
        self.deserializer = deserializer
        self._store: weakref.ref[Store] | None = None if store is None else weakref.ref(store)

    def get_store(self) -> Store:
        """Return the store this factory reads from, without reading anything.

        The store given at construction while it is open, else the store
        registered for ``config`` (built and registered if this process has none).

        Raises:
            StoreExistsError: If another store with a different config holds the name.
            StoreConfigError: If the config is invalid.
            UnknownConnectorError: If its connector kind is not installed.
        """
        store = self._store() if self._store is not None else None
        if store is None or store.closed:
            store = get_or_create_store(self.config)
        return store

    def __call__(self) -> Any:
        """Read the object from its store.

        Returns:
            The deserialized object.

        Raises:
            ObjectMissingError: If the key holds no object.
        """
        store = self.get_store()
        value = store.get(
            self.key, evict=self.evict, default=_MISSING, deserializer=self._loads(store)
        )
        return self._found(value, store)

    def __proxy_async__(self) -> Callable[[], Awaitable[Any]] | None:
        """The asyncio read of this object, when its store's connector has ``get_async``.

        [`resolve_async`][proxyflow.proxy.resolving.resolve_async] awaits it on
        the running loop instead of calling the factory in a worker thread
        (see [`Factory`][proxyflow.proxy.factory.Factory]). ``None`` when the
        connector reads only synchronously (files, for instance).
        """
        if not callable(getattr(self.get_store().connector, "get_async", None)):
            return None
        return self._read_async

    async def _read_async(self) -> Any:
        """Read the object with the connector's ``get_async``: the same checks as a call."""
        store = self.get_store()
        value = await store.get_async(
            self.key, evict=self.evict, default=_MISSING, deserializer=self._loads(store)
        )
        return self._found(value, store)

    def _loads(self, store: Store) -> Any:
        """The per-read deserializer: the named one, checked against ``digest`` if given."""
        deserializer: Any = self.deserializer
        if self.digest is not None:
            loads = store.deserializer if deserializer is None else get_serializer(deserializer)[1]
            deserializer = CheckedDeserializer(loads, self.digest)
        return deserializer

    def _found(self, value: Any, store: Store) -> Any:
        if value is _MISSING:
            raise ObjectMissingError(self.key, store.name)
        return value

    def resolve(self) -> Any:
        """Read the object from its store: the same as calling the factory.

        Raises:
            ObjectMissingError: If the key holds no object.
        """
        return self()

    def _args(self) -> tuple[Any, ...]:
        args: tuple[Any, ...] = (
            self.key,
            _wire(self.config),
            self.target_type,
            self.evict,
            self.deserializer,
            self.digest,
        )
        while len(args) > 2 and args[-1] in (None, False):
            args = args[:-1]
        return args

    def __reduce__(self) -> tuple[Any, ...]:
        return (_sf, self._args())

    def __proxy_reduce__(self) -> tuple[Any, ...]:
        """Pickle ``Proxy(self)`` as one compact call (see `proxyflow.proxy.Factory`)."""
        return (_sp, self._args())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoreFactory):
            return NotImplemented
        return (
            self.key,
            self.config,
            self.evict,
            self.target_type,
            self.deserializer,
            self.digest,
        ) == (
            other.key,
            other.config,
            other.evict,
            other.target_type,
            other.deserializer,
            other.digest,
        )

    def __hash__(self) -> int:
        return hash((type(self), self.config))

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        """Dask's token: config, key, evict flag, deserializer and digest (no storage access)."""
        return (_wire(self.config), self.key, self.evict, self.deserializer, self.digest)

    def __repr__(self) -> str:
        return (
            f"StoreFactory(key={self.key!r}, store={self.config.name!r}, "
            f"connector={self.config.connector!r}, evict={self.evict!r}, "
            f"target_type={getattr(self.target_type, '__qualname__', None)!r})"
        )


def reported_type(obj: object) -> type:
    """Return the type a store proxy of ``obj`` reports before it resolves, and resolves to.

    The type put is the type returned, except a ``memoryview``, which comes
    back as ``bytes`` (a view cannot outlive the memory it shows).
    """
    kind = type(obj)
    return bytes if kind is memoryview else kind


@functools.lru_cache(maxsize=256)
def _wire(config: StoreConfig) -> str:
    """Compact JSON of a config for pickles: ``[name, kind, options(, serializer, cache_size)]``."""
    fields: list[Any] = [config.name, config.connector, config.options]
    if config.serializer != DEFAULT_SERIALIZER or config.cache_size != _DEFAULT_CACHE_SIZE:
        fields += [config.serializer, config.cache_size]
    return json.dumps(fields, separators=(",", ":"))


@functools.lru_cache(maxsize=256)
def _unwire(wire: str) -> StoreConfig:
    """Rebuild (and share) the config of a pickled factory."""
    try:
        fields = json.loads(wire)
    except ValueError as exc:
        raise StoreConfigError(f"corrupt store config in a pickled proxy: {exc}") from exc
    if not isinstance(fields, list):
        raise StoreConfigError("corrupt store config in a pickled proxy")
    return StoreConfig(*fields)


def _sf(  # noqa: PLR0917 - the compact pickle passes its fields by position
    key: Key,
    wire: str,
    target_type: type | None = None,
    evict: bool = False,
    deserializer: str | None = None,
    digest: bytes | None = None,
) -> StoreFactory:
    """Rebuild a [`StoreFactory`][proxyflow.store.factory.StoreFactory] from its compact pickle."""
    return StoreFactory(
        key,
        _unwire(wire),
        evict=evict,
        target_type=target_type,
        deserializer=deserializer,
        digest=digest,
    )


def _sp(  # noqa: PLR0917 - the compact pickle passes its fields by position
    key: Key,
    wire: str,
    target_type: type | None = None,
    evict: bool = False,
    deserializer: str | None = None,
    digest: bytes | None = None,
) -> Proxy[Any]:
    """Rebuild a proxy of a `StoreFactory` from its compact pickle."""
    return Proxy(_sf(key, wire, target_type, evict, deserializer, digest))


# Pickles name these by the shortest importable path (``proxyflow.store`` re-exports them).
_sf.__module__ = _sp.__module__ = "proxyflow.store"
