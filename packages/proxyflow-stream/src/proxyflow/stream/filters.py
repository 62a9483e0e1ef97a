"""Metadata filters for producers and consumers.

A filter is any callable ``filter_(metadata) -> bool`` that returns **True to
KEEP** an object and False to drop it. (This is the opposite of ProxyStore,
whose filters return True to drop.) The same filter works on both sides:

* given to [`StreamProducer`][proxyflow.stream.StreamProducer] as ``filter_``, a dropped
  object is never stored nor published;
* given to [`StreamConsumer`][proxyflow.stream.StreamConsumer] as ``filter_``, a dropped
  object is skipped (and evicted from its store if its event asked for
  eviction).

``metadata`` is the ``dict`` passed to ``send(..., metadata=...)`` (``{}`` when
none). Filters here are thread-safe and cheap; combine them with
[`all_of`][proxyflow.stream.filters.all_of], [`any_of`][proxyflow.stream.filters.any_of]
and [`negate`][proxyflow.stream.filters.negate].

Example:
    ```python
    from proxyflow.stream.filters import KeyEquals, SamplingFilter, all_of

    keep = all_of(KeyEquals("kind", "image"), SamplingFilter(0.1, seed=1))
    keep({"kind": "image"})  # True about one time in ten
    keep({"kind": "text"})  # always False
    ```
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

__all__ = [
    "Filter",
    "KeyEquals",
    "MetadataFilter",
    "NullFilter",
    "SamplingFilter",
    "all_of",
    "any_of",
    "negate",
]

Filter: TypeAlias = Callable[[dict[str, Any]], bool]
"""A metadata filter: returns True to keep the object, False to drop it."""

_ABSENT = object()


class NullFilter:
    """Keeps every object.

    Example:
        ```python
        assert NullFilter()({"any": "thing"}) is True
        ```
    """

    def __call__(self, metadata: Mapping[str, Any]) -> bool:
        """Return True (keep)."""
        return True

    def __repr__(self) -> str:
        return "NullFilter()"


class SamplingFilter:
    """Keeps each object with probability ``p``, independently of its metadata.

    Args:
        p: The probability of keeping an object, ``0 <= p <= 1``.
        seed: Seed for this filter's own random generator, for reproducible
            samples; ``None`` seeds from the operating system.

    Raises:
        ValueError: If ``p`` is outside ``[0, 1]`` (or NaN).

    Example:
        ```python
        keep = SamplingFilter(0.25, seed=0)
        kept = sum(keep({}) for _ in range(1000))  # about 250
        ```
    """

    def __init__(self, p: float, *, seed: int | None = None) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"sampling probability must be within [0, 1], got {p!r}")
        self.p = float(p)
        self._random = random.Random(seed)

    def __call__(self, metadata: Mapping[str, Any]) -> bool:
        """Return True (keep) with probability ``p``."""
        return self._random.random() < self.p

    def __repr__(self) -> str:
        return f"SamplingFilter({self.p!r})"


class KeyEquals:
    """Keeps objects whose metadata has ``key`` equal to ``value``.

    An object whose metadata lacks ``key`` is dropped.

    Args:
        key: The metadata key to look at.
        value: The value to compare with ``==``.

    Example:
        ```python
        keep = KeyEquals("kind", "image")
        assert keep({"kind": "image"}) and not keep({"kind": "text"}) and not keep({})
        ```
    """

    def __init__(self, key: str, value: Any) -> None:
        self.key = key
        self.value = value

    def __call__(self, metadata: Mapping[str, Any]) -> bool:
        """Return True (keep) if ``metadata[key] == value``."""
        found = metadata.get(self.key, _ABSENT)
        return found is not _ABSENT and bool(found == self.value)

    def __repr__(self) -> str:
        return f"KeyEquals({self.key!r}, {self.value!r})"


class MetadataFilter:
    """Keeps objects whose metadata matches every given ``key=value`` pair.

    A missing key counts as a mismatch. With no pairs it keeps everything.

    Args:
        **equals: The required metadata values.

    Example:
        ```python
        keep = MetadataFilter(kind="image", channel=3)
        assert keep({"kind": "image", "channel": 3, "extra": 1})
        assert not keep({"kind": "image"})
        ```
    """

    def __init__(self, **equals: Any) -> None:
        self.equals = dict(equals)

    def __call__(self, metadata: Mapping[str, Any]) -> bool:
        """Return True (keep) if every pair matches."""
        for key, value in self.equals.items():
            found = metadata.get(key, _ABSENT)
            if found is _ABSENT or found != value:
                return False
        return True

    def __repr__(self) -> str:
        pairs = ", ".join(f"{k}={v!r}" for k, v in self.equals.items())
        return f"MetadataFilter({pairs})"


def all_of(*filters: Filter) -> Filter:
    """Combine filters: keep an object only if every filter keeps it.

    Filters run in order and stop at the first that drops. With no filters
    everything is kept.

    Args:
        *filters: The filters to combine.

    Returns:
        The combined filter.
    """
    chosen = tuple(filters)

    def keep_if_all(metadata: dict[str, Any]) -> bool:
        return all(f(metadata) for f in chosen)

    return keep_if_all


def any_of(*filters: Filter) -> Filter:
    """Combine filters: keep an object if at least one filter keeps it.

    Filters run in order and stop at the first that keeps. With no filters
    everything is dropped.

    Args:
        *filters: The filters to combine.

    Returns:
        The combined filter.
    """
    chosen = tuple(filters)

    def keep_if_any(metadata: dict[str, Any]) -> bool:
        return any(f(metadata) for f in chosen)

    return keep_if_any


def negate(filter_: Filter) -> Filter:
    """Invert a filter: keep what it drops and drop what it keeps.

    Handy to reuse a ProxyStore-style predicate that returns True to *drop*.

    Args:
        filter_: The filter to invert.

    Returns:
        The inverted filter.
    """

    def keep_if_not(metadata: dict[str, Any]) -> bool:
        return not filter_(metadata)

    return keep_if_not
