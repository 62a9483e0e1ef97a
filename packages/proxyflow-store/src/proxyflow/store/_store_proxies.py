"""The proxy makers of the [`Store`][proxyflow.store.Store].

``proxy``, ``proxy_batch`` and ``proxy_from_key`` store objects (or take a key)
and wrap the keys in lazy proxies whose factories name the store's config.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from proxyflow.api.protocols import Key
from proxyflow.proxy import Proxy
from proxyflow.serialize import Serializer
from proxyflow.store._serializers import registered_name
from proxyflow.store._store_core import StoreCore
from proxyflow.store.factory import reported_type

__all__ = ["StoreProxies"]

T = TypeVar("T")


class StoreProxies(StoreCore):
    """The proxy makers of a [`Store`][proxyflow.store.Store].

    They store objects with the store's own ``put``/``put_batch`` and wrap the
    keys in lazy proxies.
    """

    def proxy(
        self, obj: T, *, evict: bool = False, serializer: str | Serializer | None = None
    ) -> Proxy[T]:
        """Store ``obj`` now and return a lazy proxy of it.

        The proxy reports the type the object comes back as (``type(obj)``,
        or ``bytes`` for a ``memoryview``) to ``isinstance`` without resolving,
        and pickles to a few hundred bytes at most (the store config and key).

        Args:
            obj: The object.
            evict: Remove the object from storage when the proxy resolves
                (for objects read exactly once).
            serializer: A *registered* serializer (name or callable) for this
                object, so that any process can read it back.

        Returns:
            A proxy resolving to (a copy of) ``obj``.

        Raises:
            StoreClosedError: If the store is closed.
            SerializationError: If ``obj`` cannot be serialized.
            StoreConfigError: If ``serializer`` is an unregistered callable.
            BackendError: A subclass such as ``BackendFullError``, from the connector.
        """
        name = registered_name(serializer, self._serializer_name, "proxy()")
        key = self.put(obj, serializer=serializer)
        return Proxy(
            self._factory(key, evict=evict, target_type=reported_type(obj), deserializer=name)
        )

    def proxy_batch(
        self,
        objs: Sequence[Any],
        *,
        evict: bool = False,
        serializer: str | Serializer | None = None,
    ) -> list[Proxy[Any]]:
        """Store several objects, all or nothing, and return a proxy of each.

        Args:
            objs: The objects.
            evict: Remove each object from storage when its proxy resolves.
            serializer: A *registered* serializer (name or callable) for these objects.

        Returns:
            Proxies in the order of ``objs``.

        Raises:
            StoreClosedError: If the store is closed.
            SerializationError: If an object cannot be serialized (nothing is stored).
            StoreConfigError: If ``serializer`` is an unregistered callable.
            BackendError: A subclass such as ``BackendFullError``, from the
                connector (nothing is stored).
        """
        name = registered_name(serializer, self._serializer_name, "proxy_batch()")
        keys = self.put_batch(objs, serializer=serializer)
        return [
            Proxy(
                self._factory(key, evict=evict, target_type=reported_type(obj), deserializer=name)
            )
            for key, obj in zip(keys, objs, strict=True)
        ]

    def proxy_from_key(
        self,
        key: Key,
        *,
        evict: bool = False,
        target_type: type | None = None,
        deserializer: str | None = None,
        digest: bytes | None = None,
    ) -> Proxy[Any]:
        """Return a lazy proxy of an object already stored under ``key``.

        Args:
            key: A key of this store.
            evict: Remove the object from storage when the proxy resolves.
            target_type: The object's type, if known, for ``isinstance``
                checks that do not resolve.
            deserializer: The name of a registered serializer to read the
                object with, when it was not written with the store's own.
            digest: The [`content_digest`][proxyflow.store.digest.content_digest]
                the stored bytes must have: resolving checks it before
                deserializing (a mismatch raises ``ProxyResolveError`` caused
                by [`ContentDigestError`][proxyflow.store.ContentDigestError]),
                also in any process the proxy is pickled to.

        Returns:
            A proxy; if the key holds nothing when it resolves, it raises
            [`ProxyResolveError`][proxyflow.proxy.ProxyResolveError] caused by
            [`ObjectMissingError`][proxyflow.store.ObjectMissingError].

        Raises:
            StoreClosedError: If the store is closed.
            StoreConfigError: If ``deserializer`` is not registered.
        """
        if self._closed:
            self._check_open()
        name = registered_name(deserializer, self._serializer_name, "proxy_from_key()")
        return Proxy(
            self._factory(
                key, evict=evict, target_type=target_type, deserializer=name, digest=digest
            )
        )
