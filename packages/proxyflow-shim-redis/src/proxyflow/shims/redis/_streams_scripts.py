"""The Lua scripts of the Streams subscriber, each one atomic step on the server.

Redis runs a script without interleaving other commands, so a check ("is this
entry still ours, delivered this many times?") and the change that depends on
it cannot be separated by another consumer's reclaim. That is what keeps a
late ``nack`` of a subscriber from taking back an entry another subscriber
already reclaimed, and a dead-letter copy from being made twice.

* `CLAIM`: ``XAUTOCLAIM`` plus each claimed entry's delivery count.
* `SETTLE`: give an entry back after a delay (``nack``), or move it to the
  dead letters, or drop it; only if the caller still holds it.
* `RELEASE`: a closing subscriber gives back what it holds, then leaves the group.

Each script's reply is read by a function here into named types.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

__all__ = [
    "CLAIM",
    "RELEASE",
    "SETTLE",
    "Claimed",
    "ClaimedEntry",
    "Held",
    "SettleStatus",
    "parse_claim",
    "release_args",
]

CLAIM = """
local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
local entries, counts = {}, {}
for _, e in ipairs(r[2]) do
  if e then
    local p = redis.call('XPENDING', KEYS[1], ARGV[1], e[1], e[1], 1)
    if p[1] then
      entries[#entries + 1] = e
      counts[#counts + 1] = p[1][4]
    end
  end
end
return {r[1], entries, counts, r[3] or {}}
"""
"""KEYS: stream. ARGV: group, consumer, min idle ms, cursor, count.

Returns the next cursor, the claimed entries, their delivery counts (after the
claim) and the ids of pending entries whose stream entry was deleted (Redis 7
drops those from the group; 6.2 does not report them).
"""

SETTLE = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if not p[1] then return 0 end
if p[1][2] ~= ARGV[2] or p[1][4] ~= tonumber(ARGV[4]) then return -1 end
if ARGV[5] == 'nack' then
  if not redis.call('XRANGE', KEYS[1], ARGV[3], ARGV[3])[1] then return -2 end
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'IDLE', ARGV[6], 'JUSTID')
  return 1
end
if ARGV[5] == 'dead' then
  redis.call('XADD', KEYS[2], '*', unpack(ARGV, 7))
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
return 2
"""
"""KEYS: stream, dead-letter stream. ARGV: group, consumer, id, delivery count,
action (``nack``, ``dead`` or ``drop``), idle ms (``nack``), then the
dead-letter entry's fields and values (``dead``). Returns a `SettleStatus`.
"""

RELEASE = """
local released, trimmed = 0, {}
local i = 6
while i <= #ARGV do
  local key, id = KEYS[tonumber(ARGV[i])], ARGV[i + 1]
  local ok, p = pcall(redis.call, 'XPENDING', key, ARGV[1], id, id, 1)
  if ok and p[1] and p[1][2] == ARGV[2] and p[1][4] == tonumber(ARGV[i + 2]) then
    if not redis.call('XRANGE', key, id, id)[1] then
      trimmed[#trimmed + 1] = (i - 6) / 4 + 1
    elseif ARGV[i + 3] == '-1' then
      redis.call('XCLAIM', key, ARGV[1], ARGV[3], 0, id, 'IDLE', ARGV[4], 'JUSTID')
      released = released + 1
    else
      redis.call('XCLAIM', key, ARGV[1], ARGV[3], 0, id, 'IDLE', ARGV[4],
                 'RETRYCOUNT', ARGV[i + 3], 'JUSTID')
      released = released + 1
    end
  end
  i = i + 4
end
if ARGV[5] == '1' then
  for k = 1, #KEYS do
    if redis.call('EXISTS', KEYS[k]) == 1 then
      local ok, mine = pcall(redis.call, 'XPENDING', KEYS[k], ARGV[1], '-', '+', 1, ARGV[2])
      if ok and not mine[1] then
        redis.call('XGROUP', 'DELCONSUMER', KEYS[k], ARGV[1], ARGV[2])
      end
    end
  end
end
return {released, trimmed}
"""
"""KEYS: the subscriber's streams. ARGV: group, consumer, parking consumer,
idle ms, ``1`` to leave the group when nothing of the consumer is pending,
then per entry: key index (1-based), id, delivery count, new delivery count
(``-1``: unchanged). Returns how many were given back and the (1-based)
positions of entries whose stream entry was deleted meanwhile (not given
back: the caller still holds their messages).
"""


class SettleStatus:
    """What `SETTLE` returns."""

    GONE = 0
    """The entry is no longer pending: acknowledged (by anyone)."""
    TAKEN = -1
    """Another consumer (or a later delivery to this one) holds the entry now."""
    TRIMMED = -2
    """The stream entry was deleted (a length cap): it cannot be delivered again."""
    NACKED = 1
    """Given back; reclaimable once its idle time reaches the visibility timeout."""
    DONE = 2
    """Moved to the dead letters (or dropped), and acknowledged."""


class ClaimedEntry(NamedTuple):
    """One entry taken over by `CLAIM`."""

    entry_id: bytes
    fields: dict[bytes, bytes]
    delivery_count: int


class Claimed(NamedTuple):
    """The reply of `CLAIM`."""

    cursor: bytes
    """Where the next reclaim continues (``b"0-0"``: the scan is complete)."""
    entries: list[ClaimedEntry]
    deleted: list[bytes]
    """Ids of pending entries whose stream entry was deleted: lost, removed from the group."""


def _pairs(flat: Sequence[Any]) -> dict[bytes, bytes]:
    return {flat[i]: flat[i + 1] for i in range(0, len(flat) - 1, 2)}


def parse_claim(reply: Sequence[Any]) -> Claimed:
    """Read the reply of `CLAIM`."""
    cursor, raw_entries, counts, deleted = reply
    entries = [
        ClaimedEntry(entry[0], _pairs(entry[1]), int(count))
        for entry, count in zip(raw_entries, counts, strict=True)
    ]
    return Claimed(cursor, entries, list(deleted))


class Held(NamedTuple):
    """An entry a closing subscriber gives back."""

    key_index: int
    """Position of its stream among the script's keys (1-based)."""
    entry_id: bytes
    delivery_count: int
    restore: int
    """The delivery count to set: ``-1`` keeps it; an entry never handed out gets ``count - 1``."""


def release_args(
    group: str, consumer: str, parking: str, idle_ms: int, *, leave: bool, held: Sequence[Held]
) -> list[Any]:
    """Return the ``ARGV`` of `RELEASE`."""
    args: list[Any] = [group, consumer, parking, idle_ms, "1" if leave else "0"]
    for entry in held:
        args += [entry.key_index, entry.entry_id, entry.delivery_count, entry.restore]
    return args
