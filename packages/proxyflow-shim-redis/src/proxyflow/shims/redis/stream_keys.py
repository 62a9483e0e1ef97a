"""Where the Redis Streams shim keeps things: stream keys, entry fields, names.

Topic ``t`` is the stream at key ``prefix + t`` (``proxyflow:stream:t`` by
default). Each entry the publisher adds has one field, ``message``, holding
the message bytes. A consumer group is Redis's own (``XGROUP``); a consumer is
a name inside it, unique per subscriber unless given.

A dead-letter entry keeps every field of the original entry and adds the
``proxyflow-*`` fields below (the original topic and entry id, the group and
consumer that gave up, the number of deliveries and the reason).
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

__all__ = [
    "DEAD_LETTER_FIELDS",
    "DEFAULT_DEAD_LETTER_TOPIC",
    "DEFAULT_STREAM_PREFIX",
    "MESSAGE_FIELD",
    "REASON_MALFORMED",
    "REASON_MAX_DELIVERIES",
    "REASON_REJECTED",
    "REASON_TRIMMED",
    "RELEASED_CONSUMER",
    "StreamKeys",
    "check_name",
    "default_consumer_name",
]

DEFAULT_STREAM_PREFIX = "proxyflow:stream:"
"""Prefix of the stream keys: topic ``t`` is the stream ``proxyflow:stream:t``."""

DEFAULT_DEAD_LETTER_TOPIC = "dead-letters"
"""The topic (stream ``prefix + "dead-letters"``) that keeps the messages a group gave up on."""

MESSAGE_FIELD = b"message"
"""The entry field holding the message bytes."""

RELEASED_CONSUMER = "proxyflow:released"
"""The consumer that holds entries given back by a closing subscriber until someone reclaims them.

A closing subscriber moves its unsettled entries to this consumer, marked as
long idle, so that the next reclaim of any subscriber of the group takes them
at once; its own name can then leave the group.
"""

REASON_REJECTED = "rejected"
"""Dead-letter reason: a receiver called ``reject()``."""
REASON_MAX_DELIVERIES = "max-deliveries"
"""Dead-letter reason: the entry was handed out ``max_deliveries`` times and came back once more."""
REASON_MALFORMED = "malformed"
"""Dead-letter reason: the entry has no ``message`` field (not written by a proxyflow publisher)."""
REASON_TRIMMED = "trimmed"
"""Dead-letter reason: a length cap deleted the stream entry while a subscriber held it.

The subscriber still had the message, so the copy keeps it; it could not
have been delivered again from the stream.
"""

DEAD_LETTER_FIELDS = (
    b"proxyflow-topic",
    b"proxyflow-id",
    b"proxyflow-group",
    b"proxyflow-consumer",
    b"proxyflow-deliveries",
    b"proxyflow-reason",
)
"""The fields a dead-letter entry adds, in this order, to the fields of the original entry."""


def check_name(kind: str, value: object) -> str:
    """Return ``value`` if it is a usable group or consumer name, else raise.

    Raises:
        TypeError: if ``value`` is not a string.
        ValueError: if it is empty.
    """
    if not isinstance(value, str):
        raise TypeError(f"{kind} must be a string, not {type(value).__name__}")
    if not value:
        raise ValueError(f"{kind} must not be empty")
    return value


def default_consumer_name() -> str:
    """Return a consumer name unique to one subscriber: ``<host>-<pid>-<random>``."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class StreamKeys:
    """Maps topics to stream keys and back.

    Attributes:
        prefix: Prefix of every stream key.
    """

    prefix: str = DEFAULT_STREAM_PREFIX

    def key(self, topic: str) -> str:
        """Return the stream key of ``topic``."""
        return self.prefix + topic
