"""[`pair_reader`][proxyflow.executors.sources.pair_reader]: `(metadata, item)` from any consumer.

ProxyStore's ``StreamConsumer.next_with_metadata`` returns ``(metadata,
item)``; proxyflow's consumer returned ``(item, metadata)`` before it adopted
ProxyStore's order. The order is read once from the method's return
annotation (never by looking at the item: ``isinstance`` on a proxy of an
unknown type resolves it). Wrappers of a consumer (an adapter that watches another process while it
waits, say) use it to hand the dispatcher pairs in its order. It can go once
every supported ``proxyflow-stream`` returns ``(metadata, item)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from proxyflow.executors.protocols import ItemSource

__all__ = ["pair_reader"]

_ITEM_FIRST = "tuple[Any,dict"


def _returns_item_first(method: Callable[[], Any]) -> bool:
    annotations = getattr(method, "__annotations__", None) or {}
    returns = annotations.get("return")
    text = returns if isinstance(returns, str) else repr(returns)
    return text.replace(" ", "").replace("typing.", "").startswith(_ITEM_FIRST)


def pair_reader(source: ItemSource) -> Callable[[], tuple[Any, Any]]:
    """Return a function reading the next ``(metadata, item)`` pair from ``source``.

    Args:
        source: A consumer whose ``next_with_metadata`` returns either order.

    Returns:
        A function that calls ``source.next_with_metadata()`` and returns
        ``(metadata, item)``.
    """
    method = source.next_with_metadata
    if not _returns_item_first(method):
        return method

    def swapped() -> tuple[Any, Any]:
        item, metadata = method()
        return metadata, item

    return swapped
