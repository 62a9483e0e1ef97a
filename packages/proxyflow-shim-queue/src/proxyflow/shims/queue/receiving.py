"""What the queue subscribers share: checking what a queue hands out, reading the roster.

[`QueueSubscriber`][proxyflow.shims.queue.QueueSubscriber] and
[`AsyncQueueSubscriber`][proxyflow.shims.queue.AsyncQueueSubscriber] differ
only in how they wait for a message; these checks are here, once.
"""

from __future__ import annotations

from proxyflow.api import Roster
from proxyflow.shims.queue.exceptions import SubscriberClosedError, UnexpectedItemError
from proxyflow.shims.queue.roster import RosterStore

__all__ = ["as_bytes", "read_roster"]


def as_bytes(item: object) -> bytes:
    """Return a queue item as ``bytes``.

    Raises:
        UnexpectedItemError: if the item is not bytes-like (the queue is shared
            with other code?).
    """
    if type(item) is bytes:
        return item
    if isinstance(item, (bytes, bytearray, memoryview)):
        return bytes(item)
    raise UnexpectedItemError(
        f"the queue held a {type(item).__name__}, not bytes; is it shared with other code?"
    )


def read_roster(store: RosterStore, topic: str, *, closed: bool, describe: str) -> Roster:
    """Return the roster of ``topic`` kept in ``store``, for a subscriber.

    Args:
        store: Where the queue's rosters are kept.
        topic: The topic.
        closed: Whether the subscriber asking is closed.
        describe: The subscriber, for error messages.

    Raises:
        SubscriberClosedError: if ``closed``.
        QueueUnavailableError: if another process holds a shared roster too long.
        TypeError: if ``topic`` is not a string.
    """
    if closed:
        raise SubscriberClosedError(f"roster() on a closed {describe}")
    if not isinstance(topic, str):
        raise TypeError(f"topic must be a string, not {type(topic).__name__}")
    return store.roster(topic)
