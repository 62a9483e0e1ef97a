"""The protocols a stream uses: the broker seams and the metadata predicates.

The broker protocols have one definition, in
[`proxyflow.api`][proxyflow.api.protocols], and are re-exported here so that
stream code imports everything from one place:
[`Publisher`][proxyflow.api.protocols.Publisher],
[`Subscriber`][proxyflow.api.protocols.Subscriber],
[`AckingSubscriber`][proxyflow.api.protocols.AckingSubscriber] with its
[`Delivery`][proxyflow.api.protocols.Delivery], and
[`Message`][proxyflow.api.protocols.Message]. A shim satisfies them
structurally and imports nothing of ``proxyflow.stream``.

The predicates decide, from an object's metadata, whether a producer sends it
and whether a consumer hands it out:

* [`MetadataPredicate`][proxyflow.stream.protocols.MetadataPredicate] is a
  neutral test: it says whether something *is true* of the metadata and
  nothing about keeping or dropping. The argument it is passed to gives the
  direction: ``keep=`` keeps the objects it is true for, ``filter_=`` drops
  them.
* [`Filter`][proxyflow.stream.protocols.Filter] is a predicate given as
  ``filter_=``: **True drops** the object, as in ProxyStore.
"""

from __future__ import annotations

from typing import Any, Protocol

from proxyflow.api.protocols import AckingSubscriber, Delivery, Message, Publisher, Subscriber

__all__ = [
    "AckingSubscriber",
    "Delivery",
    "Filter",
    "Message",
    "MetadataPredicate",
    "Publisher",
    "Subscriber",
]


class MetadataPredicate(Protocol):
    """A test of an object's metadata, neutral about keeping or dropping.

    Any callable ``predicate(metadata) -> bool`` satisfies it, a ``lambda``
    included. It must be cheap and thread-safe: a producer or consumer shared
    by threads calls it from each of them. ``metadata`` is the ``dict`` given
    to ``send(..., metadata=...)`` (``{}`` when none); do not modify it.

    Example:
        ```python
        from proxyflow.stream.protocols import MetadataPredicate

        is_image: MetadataPredicate = lambda metadata: metadata.get("kind") == "image"
        ```
    """

    def __call__(self, metadata: dict[str, Any]) -> bool:
        """Return whether the test holds for ``metadata``."""
        ...


class Filter(MetadataPredicate, Protocol):
    """A predicate passed as ``filter_=``: **True drops** the object (ProxyStore's meaning).

    A producer does not send an object its filter is true for; a consumer
    skips it (and evicts it from its store when its event asked for eviction).
    ``keep=`` takes the opposite view of the same callables and is the
    recommended spelling in proxyflow code.
    """

    def __call__(self, metadata: dict[str, Any]) -> bool:
        """Return True to drop the object with this ``metadata``."""
        ...
