"""The producers' roster of each topic, kept in the stream itself.

Subscribers sharing a durable name share the work, so an end-of-stream
message reaches only one of them. The publisher therefore records, for each
topic, which producers announced it (``join``) and which finished it
(``leave``, once all their messages were acknowledged), and every subscriber
can read that [`Roster`][proxyflow.api.broker_types.Roster]
(``proxyflow.api.WorkSharingPublisher`` / ``WorkSharingSubscriber``).

Each record is an empty message on its own subject,
``<prefix>._roster.<topic token>.join.<producer id in hex>`` (or ``.leave.``),
stored with a message id so that repeating it stores it once. Topic subjects
have one token after the prefix and roster subjects four, so the two never
mix, and no subscriber's consumer reads roster subjects. Reading a roster is
one request: the stream's per-subject counts under
``<prefix>._roster.<topic token>.>``.

Records are ordinary messages of the stream, so its limits apply to them:
a ``max_age`` or ``max_msgs`` that removes them makes a roster look
incomplete. A stream with ``retention="interest"`` keeps no message that no
consumer reads, so it cannot hold a roster: ``join`` refuses it.
"""

from __future__ import annotations

from collections.abc import Iterable

from proxyflow.api import Roster
from proxyflow.shims.nats.subjects import topic_token

__all__ = ["ROSTER_TOKEN", "parse_roster", "roster_filter", "roster_subject"]

ROSTER_TOKEN = "_roster"
"""The subject token under the stream's prefix that holds the rosters."""

_KINDS = ("join", "leave")


def _producer_token(producer_id: bytes) -> str:
    if not isinstance(producer_id, (bytes, bytearray)) or not producer_id:
        raise ValueError(f"a producer id must be non-empty bytes, got {producer_id!r}")
    return bytes(producer_id).hex()


def roster_subject(prefix: str, topic: str, kind: str, producer_id: bytes) -> str:
    """Return the subject recording that ``producer_id`` did ``kind`` (join/leave) on ``topic``."""
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
    return f"{prefix}.{ROSTER_TOKEN}.{topic_token(topic)}.{kind}.{_producer_token(producer_id)}"


def roster_filter(prefix: str, topic: str) -> str:
    """Return the subject filter matching every roster record of ``topic``."""
    return f"{prefix}.{ROSTER_TOKEN}.{topic_token(topic)}.>"


def parse_roster(subjects: Iterable[str], prefix: str, topic: str) -> Roster:
    """Build the roster of ``topic`` from the subjects of its records (others are ignored)."""
    head = roster_filter(prefix, topic)[:-1]  # "<prefix>._roster.<token>."
    members: dict[str, set[bytes]] = {kind: set() for kind in _KINDS}
    for subject in subjects:
        if not subject.startswith(head):
            continue
        kind, _, hex_id = subject[len(head) :].partition(".")
        if kind not in members or not hex_id or "." in hex_id:
            continue
        try:
            members[kind].add(bytes.fromhex(hex_id))
        except ValueError:
            continue
    return Roster(frozenset(members["join"]), frozenset(members["leave"]))
