"""The producers' roster of a topic, kept in two Redis sets beside its stream.

Subscribers of one consumer group share the work, so an end-of-stream message
reaches only one of them. A publisher therefore records which producers
announced a topic (``join``) and which finished it (``leave``, once all their
messages were stored), and every subscriber can read that
[`Roster`][proxyflow.api.protocols.Roster] (``proxyflow.api.WorkSharingPublisher``
/ ``WorkSharingSubscriber``).

The sets of the stream at key ``k`` are ``proxyflow:roster:join:<k>`` and
``proxyflow:roster:leave:<k>``; their members are the producer ids. They are
never trimmed or expired by the shim: delete them with the stream.
"""

from __future__ import annotations

from typing import NamedTuple

from proxyflow.api import Roster

__all__ = ["ROSTER_PREFIX", "RosterKeys", "check_producer_id", "roster_from_sets"]

ROSTER_PREFIX = "proxyflow:roster:"
"""Prefix of the roster sets."""


class RosterKeys(NamedTuple):
    """The two sets of one topic's roster."""

    joined: str
    left: str

    @classmethod
    def of(cls, data_key: str) -> RosterKeys:
        """Return the roster sets of the stream (or list) at ``data_key``."""
        return cls(f"{ROSTER_PREFIX}join:{data_key}", f"{ROSTER_PREFIX}leave:{data_key}")


def check_producer_id(producer_id: object) -> bytes:
    """Return ``producer_id`` as bytes, or raise ``ValueError`` if it is not non-empty bytes."""
    if not isinstance(producer_id, (bytes, bytearray)) or not producer_id:
        raise ValueError(f"a producer id must be non-empty bytes, got {producer_id!r}")
    return bytes(producer_id)


def roster_from_sets(joined: set[bytes], left: set[bytes]) -> Roster:
    """Build a roster from the members of the two sets."""
    return Roster(frozenset(joined), frozenset(left))
