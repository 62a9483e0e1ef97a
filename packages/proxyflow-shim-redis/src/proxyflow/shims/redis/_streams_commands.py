"""The arguments of the Streams subscriber's commands, and what their replies become.

Shared by ``RedisStreamSubscriber`` and ``AsyncRedisStreamSubscriber``, which
only differ in how they wait for Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from proxyflow.shims.redis._streams_scripts import Claimed
from proxyflow.shims.redis._streams_settings import GroupSettings
from proxyflow.shims.redis._streams_state import Action, Entry, Plan

__all__ = [
    "ScriptCall",
    "claim_args",
    "claimed_entries",
    "give_up_action",
    "log",
    "log_given_up",
    "log_lost",
    "read_entries",
    "settle_call",
]

log = logging.getLogger("proxyflow.shims.redis")


class ScriptCall(NamedTuple):
    """The keys and arguments of one script call."""

    keys: list[str]
    args: list[Any]


def claim_args(settings: GroupSettings, cursor: bytes) -> list[Any]:
    """Return the ``ARGV`` of the claim script for one stream."""
    return [settings.group, settings.consumer_name, settings.visibility_ms, cursor, settings.batch]


def settle_call(
    settings: GroupSettings, entry: Entry, action: str, idle_ms: int, fields: Sequence[bytes]
) -> ScriptCall:
    """Return the call of the settle script for ``entry``."""
    keys = [entry.key, settings.dead_letter_key or entry.key]
    args: list[Any] = [
        settings.group, settings.consumer_name, entry.entry_id, entry.delivery_count,
        action, idle_ms, *fields,
    ]  # fmt: skip
    return ScriptCall(keys, args)


def read_entries(reply: Any, by_key: Mapping[bytes, tuple[str, str]]) -> list[Entry]:
    """Turn the reply of ``XREADGROUP ... >`` into first deliveries."""
    entries = []
    for raw_key, items in reply or ():
        key, topic = by_key[raw_key]
        entries += [Entry(topic, key, entry_id, fields, 1) for entry_id, fields in items]
    return entries


def claimed_entries(claimed: Claimed, key: str, topic: str) -> list[Entry]:
    """Turn the entries of a claim into redeliveries."""
    return [Entry(topic, key, c.entry_id, c.fields, c.delivery_count) for c in claimed.entries]


def give_up_action(settings: GroupSettings) -> Action:
    """What giving up on an entry means: a dead-letter copy, or dropping it."""
    return Action.DROP if settings.dead_letter is None else Action.DEAD


def log_given_up(
    describe: str, settings: GroupSettings, entry: Entry, verdict: Plan, deliveries: int
) -> None:
    """Say (as a warning) that the group gave up on ``entry``."""
    if verdict.action is Action.DEAD:
        where = f"moved to the dead letters ({settings.dead_letter!r})"
    else:
        where = "dropped (no dead-letter topic)"
    log.warning(
        "%s: entry %s of %r %s: %s after %d deliveries",
        describe, entry.entry_id.decode(), entry.topic, where, verdict.reason, deliveries,
    )  # fmt: skip


def log_lost(describe: str, topic: str, deleted: Sequence[bytes]) -> None:
    """Say (as an error) that pending entries were deleted from the stream."""
    log.error(
        "%s: %d pending entries of %r were deleted from the stream (a length cap?) "
        "before they were acknowledged; they cannot be delivered again: %s",
        describe, len(deleted), topic, [d.decode() for d in deleted[:5]],
    )  # fmt: skip
