"""Closing the stores a producer was given or a consumer built."""

from __future__ import annotations

from collections.abc import Iterable

from proxyflow.store import Store

__all__ = ["close_stores"]


def close_stores(stores: Iterable[Store]) -> None:
    """Close every distinct store of ``stores`` once, in order.

    Closing a store releases its connections only; stored objects stay.
    """
    for store in {id(store): store for store in stores}.values():
        store.close()
