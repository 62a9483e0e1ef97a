"""How topics and messages are laid out in ZeroMQ frames.

A message travels as two frames: the topic encoded as UTF-8 followed by one NUL
byte, then the payload. A subscriber of topic ``t`` subscribes to the prefix
``t`` + NUL, so ZeroMQ's prefix matching becomes exact matching: ``"a"`` never
receives ``"ab"``.
"""

from __future__ import annotations

from proxyflow.shims.zmq.exceptions import InvalidTopicError

__all__ = ["MAX_CACHED_TOPICS", "TERMINATOR", "cache_frame", "topic_frame", "topic_from_frame"]

TERMINATOR = b"\x00"
"""Byte ending every topic frame."""

MAX_CACHED_TOPICS = 4096
"""Topic frames a publisher keeps before its cache is emptied."""


def topic_frame(topic: str) -> bytes:
    """Return the first frame (and subscription prefix) of ``topic``.

    Raises:
        TypeError: if ``topic`` is not a string.
        InvalidTopicError: if ``topic`` contains a NUL character.
    """
    if not isinstance(topic, str):
        raise TypeError(f"topic must be a string, not {type(topic).__name__}")
    if "\x00" in topic:
        raise InvalidTopicError(f"topic {topic!r} contains a NUL character")
    return topic.encode() + TERMINATOR


def topic_from_frame(frame: bytes) -> str | None:
    """Return the topic of a subscription prefix or first frame, or ``None`` if foreign."""
    if not frame.endswith(TERMINATOR):
        return None
    try:
        return frame[:-1].decode()
    except UnicodeDecodeError:
        return None


def cache_frame(cache: dict[str, bytes], topic: str) -> bytes:
    """Return the frame of ``topic`` and keep it in a publisher's ``cache``.

    Publishers look a topic up in their cache first (``cache.get(topic)``)
    and call this on a miss; the cache is emptied once it holds
    [`MAX_CACHED_TOPICS`][proxyflow.shims.zmq.framing.MAX_CACHED_TOPICS] frames.

    Raises:
        TypeError: if ``topic`` is not a string.
        InvalidTopicError: if ``topic`` contains a NUL character.
    """
    frame = topic_frame(topic)
    if len(cache) >= MAX_CACHED_TOPICS:
        cache.clear()
    cache[topic] = frame
    return frame
