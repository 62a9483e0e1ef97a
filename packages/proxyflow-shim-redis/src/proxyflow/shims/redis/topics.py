"""Checking the topic arguments of subscribers."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["normalise_topics"]


def normalise_topics(topics: str | Sequence[str]) -> tuple[str, ...]:
    """Return ``topics`` as a tuple of distinct strings, in the order given.

    A single string is one topic (not a sequence of one-letter topics).

    Raises:
        TypeError: if a topic is not a string.
        ValueError: if no topic is given.
    """
    items = (topics,) if isinstance(topics, str) else tuple(topics)
    for topic in items:
        if not isinstance(topic, str):
            raise TypeError(f"topics must be strings, got {type(topic).__name__}")
    if not items:
        raise ValueError("a subscriber needs at least one topic")
    return tuple(dict.fromkeys(items))
