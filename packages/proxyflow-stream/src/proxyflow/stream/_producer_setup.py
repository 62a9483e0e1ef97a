"""What both producers set up alike: argument checks, the producer id, the topic -> store map.

[`StreamProducer`][proxyflow.stream.producer.StreamProducer] and
[`AsyncStreamProducer`][proxyflow.stream.async_producer.AsyncStreamProducer]
take the same arguments with the same errors and write the same ids and store
configs on the wire; this module is their one home.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from proxyflow.store import Store
from proxyflow.stream._wire import MAX_PRODUCER_ID_LEN, encode_store_config
from proxyflow.stream.trust import remember_location

__all__ = ["StoreMap", "check_batch_size", "check_publisher", "producer_id"]


def check_batch_size(batch_size: int) -> None:
    """Raise `ValueError` unless ``batch_size >= 1``."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")


def check_publisher(publisher: object) -> None:
    """Raise `TypeError` unless ``publisher`` has a ``send_message`` method (a sync publisher)."""
    if not callable(getattr(publisher, "send_message", None)):
        raise TypeError(
            "publisher must provide send_message(topic, message) and close() (the "
            f"proxyflow.api.Publisher protocol); {type(publisher).__name__} does not"
        )


def producer_id(given: str | bytes | None) -> bytes:
    """The id a producer writes into its events: ``given`` (``str`` as UTF-8) or a random one.

    Raises:
        ValueError: If ``given`` is not 1 to `MAX_PRODUCER_ID_LEN` bytes long.
    """
    if given is None:
        return uuid.uuid4().bytes[:8]
    raw = given.encode("utf-8") if isinstance(given, str) else bytes(given)
    if not 0 < len(raw) <= MAX_PRODUCER_ID_LEN:
        raise ValueError(f"producer_id must be 1 to {MAX_PRODUCER_ID_LEN} bytes, got {len(raw)}")
    return raw


class StoreMap:
    """Which store holds each topic's objects, and each store's packed config.

    Args:
        stores: Topic to store (``None`` value: inline).
        default_store: Store for topics missing from ``stores`` (``None``: inline).
    """

    def __init__(self, stores: Mapping[str, Store | None] | None, default_store: Store | None):
        self._stores: dict[str, Store | None] = dict(stores or {})
        self._default = default_store
        # Packed store configs, computed once per store: id(store) -> bytes.
        # The stores stay referenced by ``_stores``/``_default``, so ids are stable.
        self._configs: dict[int, bytes] = {}

    def store_for(self, topic: str) -> Store | None:
        """The store of ``topic``'s objects, or ``None`` to send them inline."""
        return self._stores.get(topic, self._default)

    def packed_config(self, store: Store | None) -> bytes | None:
        """``store``'s config as carried in events (computed once), ``None`` for inline.

        A producer in this process writes to it, so a consumer here trusts its location.
        """
        if store is None:
            return None
        packed = self._configs.get(id(store))
        if packed is None:
            config = store.config()
            remember_location(config)  # a consumer in this process trusts it
            packed = encode_store_config(config)
            self._configs[id(store)] = packed
        return packed

    def given(self) -> list[Store]:
        """Every store given (per topic, then the default), to close."""
        return [s for s in (*self._stores.values(), self._default) if s]
