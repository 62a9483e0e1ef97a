"""The broker protocols a stream consumes: `Publisher` and `Subscriber`.

A shim adapts one message broker to these protocols. Shims move *bytes on a
topic*; they know nothing of events, stores or proxies and do not import
``proxyflow.stream``: they satisfy these protocols structurally.

Every implementation must document, in its docstring and docs page:

* **Ordering**: whether messages from one publisher on one topic arrive in order.
* **Blocking**: when ``send_message`` blocks (a full queue, a high-water mark)
  and what it does then (block, raise, drop).
* **Multi-producer**: whether several publishers may send on one topic.
* **Multi-consumer**: whether each subscriber receives every message
  (fan-out) or each message goes to exactly one subscriber (work sharing).
* **Loss**: when messages are dropped (no subscriber connected, high-water mark).
* **close()**: what it releases; calling it twice is allowed; using a closed
  publisher raises an error.

Errors use built-in classes so the stream core needs nothing from the shim:
``TimeoutError`` when a timed receive expires and ``ConnectionError`` (or a
subclass) when the broker cannot be reached. Shims define subclasses of these
in their own ``exceptions`` module.

Future seam: a subscriber of a durable broker will add ``ack(message_id)``; the
events already carry a producer id and a per-topic sequence number for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, TypeAlias, runtime_checkable

__all__ = ["Message", "Publisher", "Subscriber"]

Message: TypeAlias = bytes | bytearray | memoryview
"""An opaque message; shims may hand out memoryviews to avoid copies."""


@runtime_checkable
class Publisher(Protocol):
    """Sends opaque messages to a topic of a broker."""

    def send_message(self, topic: str, message: Message) -> None:
        """Send one message on ``topic``.

        Raises:
            KeyError: (a subclass of it) if the shim does not know ``topic``.
            ConnectionError: if the broker cannot be reached.
        """
        ...

    def close(self) -> None:
        """Release the broker connection; idempotent."""
        ...


@runtime_checkable
class Subscriber(Protocol):
    """Receives opaque messages from one or more topics of a broker.

    Iterating yields messages until the subscriber is closed (then the iterator
    stops). A shim-level timeout given at construction makes iteration raise
    ``TimeoutError`` when nothing arrives in time.
    """

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics this subscriber reads; empty if the broker does not say."""
        ...

    def __iter__(self) -> Iterator[Message]:
        """Iterate over incoming messages."""
        ...

    def __next__(self) -> Message:
        """Return the next message, blocking as configured."""
        ...

    def next_message(self, timeout: float | None = None) -> Message:
        """Return the next message, waiting at most ``timeout`` seconds (``None``: forever).

        Raises:
            TimeoutError: if no message arrived within ``timeout``.
            EOFError: if the subscriber was closed.
        """
        ...

    def close(self) -> None:
        """Stop receiving and release the broker connection; idempotent."""
        ...
