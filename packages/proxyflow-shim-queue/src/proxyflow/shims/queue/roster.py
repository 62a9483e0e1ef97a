"""The producers' roster of the topics a queue carries.

A queue hands each message to one reader, so when several consumers share a
queue a producer's end-of-stream message reaches only one of them. The queue
therefore keeps a [`Roster`][proxyflow.api.broker_types.Roster] of each topic's
producers (``proxyflow.api.WorkSharingPublisher`` /
``WorkSharingSubscriber``), which every consumer reads. Where it lives
depends on the queue ([`roster_of`][proxyflow.shims.queue.roster.roster_of]):

* a [`SharedQueue`][proxyflow.shims.queue.shared.SharedQueue] (made by
  [`shared_queue`][proxyflow.shims.queue.shared.shared_queue]) carries a
  [`SharedRoster`][proxyflow.shims.queue.roster.SharedRoster] in shared
  memory, which travels with the queue to the processes it is given to;
* any other ``multiprocessing`` queue (``Queue``, ``JoinableQueue``,
  ``SimpleQueue``, a ``Manager().Queue()`` proxy) has none: nothing can be
  attached to it that other processes would see;
* every other queue (``queue.Queue``, ``queue.SimpleQueue``...) is taken to
  be used by the threads of one process, and gets a
  [`LocalRoster`][proxyflow.shims.queue.roster.LocalRoster] kept in this
  process for as long as the queue exists.

A roster knows only the producers that have joined so far: a consumer that
expects ``n`` producers also waits until ``len(roster.joined) >= n``.
"""

from __future__ import annotations

import multiprocessing.managers
import multiprocessing.queues
import struct
import threading
import weakref
from typing import Any, Protocol

from proxyflow.api import Roster
from proxyflow.shims.queue.exceptions import QueueUnavailableError, RosterFullError

__all__ = [
    "DEFAULT_ROSTER_SIZE",
    "LocalRoster",
    "RosterStore",
    "SharedRoster",
    "check_producer_id",
    "roster_of",
]

DEFAULT_ROSTER_SIZE = 64 * 1024
"""Bytes of shared memory a `SharedRoster` holds by default (about 1,000 producer entries)."""

_LOCK_TIMEOUT = 10.0
"""Seconds to wait for another process's roster update before giving up."""

_JOINED, _LEFT = 1, 2
_HEADER = struct.Struct("<I")  # bytes of entries in use
_TOPIC = struct.Struct("<H")  # length of a topic, then the topic (UTF-8)
_ID = struct.Struct("<BB")  # length of a producer id and its flags, then the id


class RosterStore(Protocol):
    """Where the rosters of one queue's topics are kept."""

    def record(self, topic: str, producer_id: bytes, left: bool) -> None:
        """Record that ``producer_id`` joined (or, with ``left``, left) ``topic``."""
        ...

    def roster(self, topic: str) -> Roster:
        """Return the roster of ``topic``."""
        ...


def check_producer_id(producer_id: bytes) -> bytes:
    """Return ``producer_id`` as ``bytes``.

    Raises:
        TypeError: if it is not bytes-like.
        ValueError: if it is empty or longer than 255 bytes.
    """
    if not isinstance(producer_id, (bytes, bytearray, memoryview)):
        raise TypeError(f"a producer id must be bytes, not {type(producer_id).__name__}")
    producer_id = bytes(producer_id)
    if not 0 < len(producer_id) < 256:
        raise ValueError(f"a producer id must be 1 to 255 bytes long, not {len(producer_id)}")
    return producer_id


def _as_roster(flags: dict[bytes, int] | None) -> Roster:
    entries = flags or {}
    return Roster(
        frozenset(pid for pid, flag in entries.items() if flag & _JOINED),
        frozenset(pid for pid, flag in entries.items() if flag & _LEFT),
    )


class LocalRoster:
    """Rosters kept in this process: for queues used by the threads of one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._topics: dict[str, dict[bytes, int]] = {}

    def record(self, topic: str, producer_id: bytes, left: bool) -> None:
        """Record that ``producer_id`` joined (or, with ``left``, left) ``topic``."""
        with self._lock:
            entries = self._topics.setdefault(topic, {})
            entries[producer_id] = entries.get(producer_id, 0) | (_LEFT if left else _JOINED)

    def roster(self, topic: str) -> Roster:
        """Return the roster of ``topic``."""
        with self._lock:
            return _as_roster(dict(self._topics.get(topic, {})))


class SharedRoster:
    """Rosters in shared memory, for a queue shared by processes.

    A ``multiprocessing`` lock and a fixed block of shared memory, both
    created from the queue's context; they travel with the queue to the
    processes it is passed to (as arguments of ``Process``, or inherited).
    An update takes the lock and rewrites the block; updates are rare (two
    per producer and topic).

    Args:
        ctx: The ``multiprocessing`` context of the queue.
        size: Bytes of shared memory; each entry takes about 5 bytes plus its
            topic and producer id.
    """

    def __init__(self, ctx: Any, size: int = DEFAULT_ROSTER_SIZE) -> None:
        if size < _HEADER.size:
            raise ValueError(f"roster_size must be at least {_HEADER.size}, got {size}")
        self._lock = ctx.Lock()
        self._memory = ctx.RawArray("B", size)

    @property
    def size(self) -> int:
        """Bytes of shared memory."""
        return len(self._memory)

    def _locked(self) -> Any:
        if not self._lock.acquire(timeout=_LOCK_TIMEOUT):
            raise QueueUnavailableError(
                f"the queue's roster stayed locked for {_LOCK_TIMEOUT}s: did a process "
                "die while updating it? Make a new queue with shared_queue()"
            )
        return self._lock

    def _load(self) -> dict[str, dict[bytes, int]]:
        data = memoryview(self._memory).cast("B")
        (used,) = _HEADER.unpack_from(data)
        topics: dict[str, dict[bytes, int]] = {}
        offset, end = _HEADER.size, _HEADER.size + used
        while offset < end:
            (length,) = _TOPIC.unpack_from(data, offset)
            offset += _TOPIC.size
            topic = bytes(data[offset : offset + length]).decode()
            offset += length
            id_length, flags = _ID.unpack_from(data, offset)
            offset += _ID.size
            topics.setdefault(topic, {})[bytes(data[offset : offset + id_length])] = flags
            offset += id_length
        return topics

    def _store(self, topics: dict[str, dict[bytes, int]]) -> None:
        parts = []
        for topic, entries in topics.items():
            name = topic.encode()
            for producer_id, flags in entries.items():
                parts += [_TOPIC.pack(len(name)), name, _ID.pack(len(producer_id), flags)]
                parts.append(producer_id)
        blob = b"".join(parts)
        if _HEADER.size + len(blob) > len(self._memory):
            raise RosterFullError(
                f"the queue's roster is full ({len(self._memory)} bytes): create the queue "
                "with a larger roster, shared_queue(ctx, roster_size=...)"
            )
        data = memoryview(self._memory).cast("B")
        data[_HEADER.size : _HEADER.size + len(blob)] = blob
        _HEADER.pack_into(data, 0, len(blob))

    def record(self, topic: str, producer_id: bytes, left: bool) -> None:
        """Record that ``producer_id`` joined (or, with ``left``, left) ``topic``.

        Raises:
            RosterFullError: if the shared memory has no room for the entry.
            QueueUnavailableError: if another process holds the lock too long.
            ValueError: if ``topic`` is longer than 65,535 bytes in UTF-8.
        """
        if len(topic.encode()) > 0xFFFF:
            raise ValueError("a topic of a shared queue's roster must be under 64 KiB in UTF-8")
        flag = _LEFT if left else _JOINED
        lock = self._locked()
        try:
            topics = self._load()
            entries = topics.setdefault(topic, {})
            if entries.get(producer_id, 0) & flag:
                return  # recorded already
            entries[producer_id] = entries.get(producer_id, 0) | flag
            self._store(topics)
        finally:
            lock.release()

    def roster(self, topic: str) -> Roster:
        """Return the roster of ``topic``.

        Raises:
            QueueUnavailableError: if another process holds the lock too long.
        """
        lock = self._locked()
        try:
            return _as_roster(self._load().get(topic))
        finally:
            lock.release()


_CROSS_PROCESS = (
    multiprocessing.queues.Queue,
    multiprocessing.queues.SimpleQueue,
    multiprocessing.managers.BaseProxy,
)
_local: weakref.WeakKeyDictionary[Any, LocalRoster] = weakref.WeakKeyDictionary()
_local_lock = threading.Lock()


def roster_of(queue: Any) -> RosterStore | None:
    """Return where the rosters of ``queue``'s topics are kept, or ``None`` if nowhere.

    See the module documentation: a shared queue's own roster, nothing for
    other ``multiprocessing`` queues, a roster of this process otherwise.
    """
    shared = getattr(queue, "proxyflow_roster", None)
    if isinstance(shared, SharedRoster):
        return shared
    if isinstance(queue, _CROSS_PROCESS):
        return None
    with _local_lock:
        try:
            local = _local.get(queue)
            if local is None:
                local = _local[queue] = LocalRoster()
        except TypeError:  # not hashable, or not weakly referable: no roster
            return None
        return local
