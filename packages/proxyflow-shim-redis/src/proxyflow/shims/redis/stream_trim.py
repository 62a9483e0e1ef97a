"""A length cap on a stream, and the report of what it removed before it was read.

``RedisStreamPublisher(url, maxlen=n)`` keeps each stream near ``n`` entries
(``XTRIM MAXLEN ~ n``: Redis removes whole blocks of the oldest entries, so a
stream may hold somewhat more than ``n``). Trimming does not wait for the
consumer groups: an entry removed before a group read it is lost for that
group, and an entry removed while delivered but not acknowledged can no
longer be delivered again if its consumer fails. The cap is therefore opt-in,
and every loss it causes is reported.

Each capped add runs one script (`ADD_CAPPED`) that adds the entry, trims,
and, only when the trim removed entries, compares them with every consumer
group of the stream, atomically (no group can read in between). The reply
becomes [`TrimReport`][proxyflow.shims.redis.stream_trim.TrimReport]s. It
needs Redis 7.0 (the groups' ``lag`` counter).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

__all__ = ["ADD_CAPPED", "TrimReport", "describe_reports", "parse_capped_reply"]

ADD_CAPPED = """
local function cmp(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if #am ~= #bm then return #am < #bm and -1 or 1 end
  if am ~= bm then return am < bm and -1 or 1 end
  if #as ~= #bs then return #as < #bs and -1 or 1 end
  if as ~= bs then return as < bs and -1 or 1 end
  return 0
end
local head = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
local id = redis.call('XADD', KEYS[1], '*', ARGV[2], ARGV[3])
local deleted = redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', ARGV[1])
if deleted == 0 then return {id} end
local before = head and head[1] or id
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1][1]
local length = redis.call('XLEN', KEYS[1])
local out = {id, deleted, KEYS[1]}
for _, flat in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local g = {}
  for i = 1, #flat, 2 do g[flat[i]] = flat[i + 1] end
  local last, unread = g['last-delivered-id'], 0
  if cmp(last, first) < 0 then
    if cmp(last, before) < 0 then
      unread = deleted
    elseif g['lag'] then
      unread = g['lag'] - length
    else
      unread = -1
    end
  end
  local pending = #redis.call('XPENDING', KEYS[1], g['name'], before, '(' .. first, 10000)
  if unread ~= 0 or pending > 0 then
    out[#out + 1] = g['name']
    out[#out + 1] = unread
    out[#out + 1] = pending
  end
end
return out
"""
"""KEYS: stream. ARGV: maxlen, field, message.

Returns ``{id}`` when nothing was trimmed, else ``{id, deleted, key, then
per group that lost entries: name, unread (-1: unknown), pending}``.
"""


class TrimReport(NamedTuple):
    """Entries a length cap removed before one consumer group was done with them."""

    topic: str
    """The topic (stream) trimmed."""
    group: str
    """The consumer group that lost entries."""
    unread: int | None
    """Entries removed before the group read them (``None``: at least one, number unknown)."""
    unacknowledged: int
    """Entries removed while delivered and not acknowledged (up to 10000 counted per trim).

    Their consumers hold the messages; if a consumer fails, they cannot be delivered again.
    """


def parse_capped_reply(reply: Any, prefix: str) -> tuple[bytes, list[TrimReport]]:
    """Read the reply of `ADD_CAPPED`: the new entry's id and the losses it caused.

    Args:
        reply: The script's reply (or a plain ``XADD``'s: an id).
        prefix: The publisher's key prefix, to name the topic.
    """
    if not isinstance(reply, list):
        return reply, []
    if len(reply) < 3:
        return reply[0], []
    key = reply[2].decode(errors="replace") if isinstance(reply[2], bytes) else str(reply[2])
    topic = key[len(prefix) :] if key.startswith(prefix) else key
    reports = []
    for i in range(3, len(reply) - 2, 3):
        name, unread, pending = reply[i], int(reply[i + 1]), int(reply[i + 2])
        group = name.decode(errors="replace") if isinstance(name, bytes) else str(name)
        reports.append(TrimReport(topic, group, None if unread < 0 else unread, pending))
    return reply[0], reports


def describe_reports(reports: Sequence[TrimReport]) -> str:
    """Say what the reports mean, in one sentence per report."""
    parts = []
    for report in reports:
        unread = "some" if report.unread is None else str(report.unread)
        parts.append(
            f"topic {report.topic!r}, group {report.group!r}: {unread} unread and "
            f"{report.unacknowledged} unacknowledged entries removed"
        )
    return "; ".join(parts)
