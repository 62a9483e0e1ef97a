"""What the dispatcher needs from a stream consumer.

[`dispatch`][proxyflow.executors.dispatcher.dispatch] reads items through
[`ItemSource`][proxyflow.executors.protocols.ItemSource]: a
[`StreamConsumer`][proxyflow.stream.StreamConsumer] satisfies it, and so does
any object with the same two methods (a test double, an adapter that watches
another process while it waits). A source that can acknowledge items also
satisfies [`AckingItemSource`][proxyflow.executors.protocols.AckingItemSource],
and one with a dead-letter place
[`RejectingItemSource`][proxyflow.executors.protocols.RejectingItemSource]; the
dispatcher uses what the source offers and never needs more.

Guarantees a source must give:

* ``next_with_metadata()`` blocks until the next item is available and returns
  it **unresolved** (a proxy stays a proxy) with its metadata; it raises
  ``StopIteration`` at the end of the stream, a ``TimeoutError`` when its own
  timeout expires, and any other error for a bad message. It is called from
  one thread at a time (the dispatcher's reader thread).
* ``ack``, ``nack`` and ``reject`` take the very object that
  ``next_with_metadata`` returned (compared by identity), may be called from
  another thread while ``next_with_metadata`` waits, and are called at most
  once per item, in any order across items.

Optional members the dispatcher reads when a source has them (a
[`StreamConsumer`][proxyflow.stream.StreamConsumer] has all three):
``acknowledges`` (false: the source has ``ack`` but nothing to acknowledge,
so its items are consumed), ``ack_mode`` (``"auto"``: the source acknowledges
on its own when the next item is read, which the dispatcher refuses unless
``acknowledge=False``) and ``delivery_count(item)`` (how many times the broker
handed the item out; needed by ``redeliver=True``).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["AckingItemSource", "ItemSource", "RejectingItemSource"]


@runtime_checkable
class ItemSource(Protocol):
    """A stream of items (proxies or inline objects) with their metadata."""

    def next_with_metadata(self) -> tuple[Any, Any]:
        """Return the next item and its metadata, without resolving the item.

        The pair is ``(metadata, item)``, the order ProxyStore's
        ``StreamConsumer`` uses; the ``(item, metadata)`` order of earlier
        proxyflow consumers is recognised from the method's return annotation.

        Raises:
            StopIteration: At the end of the stream.
            TimeoutError: If the source's own timeout expired.
        """
        ...


@runtime_checkable
class AckingItemSource(ItemSource, Protocol):
    """A source whose items stay with a durable broker until acknowledged."""

    def ack(self, item: Any) -> None:
        """Confirm that ``item`` was handled: it will not be delivered again."""
        ...

    def nack(self, item: Any, delay: float | None = None) -> None:
        """Give ``item`` back, to be delivered again after ``delay`` seconds (``None``: soon)."""
        ...


@runtime_checkable
class RejectingItemSource(AckingItemSource, Protocol):
    """An acknowledging source with a dead-letter place for items that keep failing."""

    def reject(self, item: Any) -> None:
        """Never deliver ``item`` again (it goes to the dead-letter place, if any)."""
        ...
