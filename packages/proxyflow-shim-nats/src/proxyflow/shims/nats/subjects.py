"""How topics become NATS subjects and durable consumer names.

A topic is any non-empty string. It becomes one subject token under the
stream's prefix: letters, digits, ``-`` and ``_`` are kept and every other
byte of its UTF-8 form is written ``%XX``, so ``"a.b"`` is ``"<prefix>.a%2Eb"``
and never a child of ``"a"``; the mapping is one-to-one and never reaches a
NATS wildcard (``*``, ``>``) or separator (``.``).

Each subscriber reads its topics through one durable pull consumer per topic
(NATS 2.9 consumers filter one subject), named ``<durable>_<topic>`` when the
topic is letters, digits and ``-`` (at most 32 characters) and
``<durable>_--<digest>`` otherwise. The part after the last ``_`` never
contains ``_``, so two (durable, topic) pairs never share a name.
"""

from __future__ import annotations

import hashlib
import re

__all__ = [
    "check_durable",
    "check_stream_name",
    "check_subject_prefix",
    "consumer_name",
    "subject_for",
    "topic_token",
]

_SAFE_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_SIMPLE_TOPIC = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,31}")
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_PREFIX_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


def topic_token(topic: str) -> str:
    """Return the subject token for ``topic`` (see the module docs).

    Raises:
        TypeError: if ``topic`` is not a string.
        ValueError: if ``topic`` is empty.
    """
    if not isinstance(topic, str):
        raise TypeError(f"a topic must be a string, not {type(topic).__name__}")
    if not topic:
        raise ValueError("a topic must not be empty")
    if topic.isascii() and all(ord(c) in _SAFE_BYTES for c in topic):
        return topic
    return "".join(chr(b) if b in _SAFE_BYTES else f"%{b:02X}" for b in topic.encode())


def subject_for(prefix: str, topic: str) -> str:
    """Return the subject of ``topic`` in a stream whose subjects start with ``prefix``."""
    return f"{prefix}.{topic_token(topic)}"


def consumer_name(durable: str, topic: str) -> str:
    """Return the name of the durable consumer that reads ``topic`` for ``durable``."""
    if _SIMPLE_TOPIC.fullmatch(topic):
        return f"{durable}_{topic}"
    digest = hashlib.sha256(topic.encode()).hexdigest()[:24]
    return f"{durable}_--{digest}"


def check_durable(durable: str) -> str:
    """Return ``durable`` if it is a valid durable name, else raise ``ValueError``.

    A durable name is letters, digits, ``-`` and ``_``, at most 64 characters.
    """
    if not isinstance(durable, str) or not _NAME.fullmatch(durable) or len(durable) > 64:
        raise ValueError(
            f"durable must be 1-64 letters, digits, '-' or '_', got {durable!r}; every "
            "subscriber that shares the name shares the work, each name gets every message"
        )
    return durable


def check_stream_name(name: str) -> str:
    """Return ``name`` if it is a valid JetStream stream name, else raise ``ValueError``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > 64:
        raise ValueError(f"a stream name must be 1-64 letters, digits, '-' or '_', got {name!r}")
    return name


def check_subject_prefix(prefix: str) -> str:
    """Return ``prefix`` if it is dot-separated tokens of letters, digits, ``-``, ``_``."""
    tokens = prefix.split(".") if isinstance(prefix, str) else [""]
    if not all(_PREFIX_TOKEN.fullmatch(token) for token in tokens):
        raise ValueError(
            "subject_prefix must be dot-separated tokens of letters, digits, '-' or '_' "
            f"(no wildcards), got {prefix!r}"
        )
    return prefix
