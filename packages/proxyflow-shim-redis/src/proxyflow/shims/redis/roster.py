"""The producers' roster of a Redis list topic, kept in a hash next to the list.

On a work queue each message goes to one subscriber, so a producer's
end-of-stream message reaches only one consumer. The queue publisher
therefore records, for each topic, which producers announced it (``join``)
and which finished it (``leave``, once all their messages were stored), and
every subscriber can read that [`Roster`][proxyflow.api.broker_types.Roster]
(``proxyflow.api.WorkSharingPublisher`` / ``WorkSharingSubscriber``).

The roster of the list ``key`` is the hash ``proxyflow:roster:<key>``
(``proxyflow:roster:proxyflow:queue:<topic>`` with the default prefix), with
the field ``j:<producer id>`` once a producer joined and ``l:<producer id>``
once it left. Setting a field twice changes nothing, and reading is one
``HKEYS``, so a reader always sees a consistent roster. List keys start with
the queue prefix and roster keys with ``proxyflow:roster:``, so the two never
mix as long as no topic of an empty prefix starts with ``proxyflow:roster:``.

A roster lives in Redis as long as its list would: it is not persisted unless
the server persists its data, and it outlives the stream. Give each stream
its own topic, or clear a finished topic's roster
(``RedisQueuePublisher.clear_roster``) before reusing its name, or a consumer
of the new stream may read the old, complete roster and stop early.

A roster knows only the producers that have joined so far: a consumer that
expects ``n`` producers also waits until ``len(roster.joined) >= n``.
"""

from __future__ import annotations

from collections.abc import Iterable

from proxyflow.api import Roster

__all__ = ["JOINED", "LEFT", "ROSTER_PREFIX", "check_producer_id", "parse_roster", "roster_key"]

ROSTER_PREFIX = "proxyflow:roster:"
"""Prefix of the roster hashes: the roster of list ``key`` is ``ROSTER_PREFIX + key``."""

JOINED = b"j:"
"""Prefix of the field recording that a producer joined (``j:<producer id>``)."""

LEFT = b"l:"
"""Prefix of the field recording that a producer left (``l:<producer id>``)."""


def roster_key(list_key: str) -> str:
    """Return the key of the roster hash of the list ``list_key``."""
    return ROSTER_PREFIX + list_key


def check_producer_id(producer_id: bytes) -> bytes:
    """Return ``producer_id`` as ``bytes``.

    Raises:
        TypeError: if it is not bytes-like.
        ValueError: if it is empty.
    """
    if not isinstance(producer_id, (bytes, bytearray, memoryview)):
        raise TypeError(f"a producer id must be bytes, not {type(producer_id).__name__}")
    if not producer_id:
        raise ValueError("a producer id must not be empty")
    return bytes(producer_id)


def parse_roster(fields: Iterable[bytes]) -> Roster:
    """Build a roster from the field names of a roster hash (other fields are ignored)."""
    names = [bytes(field) for field in fields]
    joined = frozenset(name[2:] for name in names if name[:2] == JOINED and name[2:])
    left = frozenset(name[2:] for name in names if name[:2] == LEFT and name[2:])
    return Roster(joined, left)
