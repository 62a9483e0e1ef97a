"""What a consumer group has left of one stream: ``backlog(topic)`` of the Streams subscribers.

Shared by ``RedisStreamSubscriber`` and ``AsyncRedisStreamSubscriber``, which
only differ in how they wait for Redis. One ``XINFO GROUPS`` reply holds both
counts for the subscriber's group, read in one consistent snapshot:

* **unacknowledged**: the group's ``pending`` (the size of its pending entries
  list, what ``XPENDING``'s summary counts): entries handed out to a consumer
  and not acknowledged, including those of a dead consumer and those given
  back (``nack``, ``close()``) until someone reclaims them;
* **undelivered**: the group's ``lag`` (Redis 7 or later), the entries after
  the group's last-delivered id. Where the server does not report it (Redis
  6.2, or a stream with deleted entries in the range), the entries after the
  last-delivered id are read with ``XRANGE ... COUNT`` `SCAN_BOUND`: the
  count is then exact up to that bound, and never 0 while one is left.

An entry the group delivered between the two readings of the fallback is
counted as undelivered (the scan starts at the id read first), never missed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import redis

from proxyflow.api import GroupBacklog

__all__ = ["SCAN_BOUND", "Scan", "is_missing_key", "read_groups"]

SCAN_BOUND = 100
"""Most entries the fallback scan reads to count the undelivered ones (Redis before 7)."""


class Scan(NamedTuple):
    """The second step of a backlog on a server without ``lag``: count entries after an id.

    Attributes:
        after: The ``min`` of the ``XRANGE`` (``"(<id>"``: after that id; ``"-"``: all).
        unacknowledged: The group's pending count, read with the id.
    """

    after: str
    unacknowledged: int

    def backlog(self, found: int) -> GroupBacklog:
        """The backlog once the scan found ``found`` entries."""
        return GroupBacklog(found, self.unacknowledged)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, (bytes, bytearray)) else str(value)


def read_groups(rows: Iterable[Mapping[str, Any]], group: str) -> GroupBacklog | Scan:
    """Read the backlog of ``group`` from the reply of ``XINFO GROUPS`` (redis-py's dicts).

    Returns the backlog, or the `Scan` that counts the undelivered entries
    when the server does not report ``lag``. A group that does not exist
    (deleted with its stream: a subscriber's next read creates it again
    from the first entry) has every entry of the stream undelivered.
    """
    for row in rows:
        if _text(row.get("name", b"")) != group:
            continue
        pending = int(row.get("pending") or 0)
        lag = row.get("lag")
        if lag is not None:
            return GroupBacklog(int(lag), pending)
        last = _text(row.get("last-delivered-id") or b"0-0")
        return Scan(f"({last}", pending)
    return Scan("-", 0)


def is_missing_key(exc: BaseException) -> bool:
    """Whether ``exc`` is Redis's reply to ``XINFO GROUPS`` on a key that does not exist."""
    return isinstance(exc, redis.ResponseError) and "no such key" in str(exc).lower()
