"""Metadata predicates for producers and consumers, and which way they cut.

A producer and a consumer each take at most one predicate, given in one of two
ways:

* ``keep=predicate``: an object is **kept** when the predicate is true for its
  metadata (the recommended spelling);
* ``filter_=predicate``: an object is **dropped** when the predicate is true,
  exactly as ProxyStore's ``filter_`` (a [`Filter`][proxyflow.stream.protocols.Filter]).

Passing both raises ``TypeError``. On the producer a dropped object is never
stored nor published; on the consumer it is skipped, and evicted from its store
when its event asked for eviction.

The two filter classes ProxyStore also has mean what they mean there, and are
meant for ``filter_=``:

* [`NullFilter`][proxyflow.stream.filters.NullFilter] is always false: it drops nothing;
* [`SamplingFilter(p)`][proxyflow.stream.filters.SamplingFilter] is true with
  probability ``p``: it drops about ``p`` of the objects.

The other predicates are neutral statements, "true when ...", so they read the
same under ``keep=`` and ``filter_=``:
[`KeyEquals`][proxyflow.stream.filters.KeyEquals],
[`MetadataMatches`][proxyflow.stream.filters.MetadataMatches] and the
combinators [`all_of`][proxyflow.stream.filters.all_of],
[`any_of`][proxyflow.stream.filters.any_of] and
[`negate`][proxyflow.stream.filters.negate]. ``metadata`` is the ``dict``
passed to ``send(..., metadata=...)`` (``{}`` when none). Every predicate here
is cheap and thread-safe.

Example:
    ```python
    from proxyflow.stream.filters import KeyEquals, SamplingFilter, all_of

    is_image = KeyEquals("kind", "image")
    # StreamConsumer(subscriber, keep=is_image)       yields only images
    # StreamConsumer(subscriber, filter_=is_image)    yields everything but images
    # StreamConsumer(subscriber, filter_=SamplingFilter(0.9))  drops about 90%
    both = all_of(is_image, KeyEquals("channel", 3))
    assert both({"kind": "image", "channel": 3}) and not both({"kind": "image"})
    ```
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

from proxyflow.stream.protocols import Filter, MetadataPredicate

__all__ = [
    "Filter",
    "KeyEquals",
    "MetadataMatches",
    "MetadataPredicate",
    "NullFilter",
    "SamplingFilter",
    "all_of",
    "any_of",
    "negate",
]

_ABSENT = object()


class NullFilter:
    """A [`Filter`][proxyflow.stream.protocols.Filter] that drops nothing: always false.

    As in ProxyStore, ``filter_=NullFilter()`` is the same as no filter. (As
    ``keep=`` it would keep nothing.)

    Example:
        ```python
        assert NullFilter()({"any": "thing"}) is False
        ```
    """

    def __call__(self, metadata: Mapping[str, Any]) -> bool:
        """Return False (the object is not dropped)."""
        return False

    def __repr__(self) -> str:
        return "NullFilter()"


class SamplingFilter:
    """A [`Filter`][proxyflow.stream.protocols.Filter] that is true with probability ``p``.

    As in ProxyStore, ``filter_=SamplingFilter(0.2)`` **drops** about 20% of the
    objects and keeps about 80%, independently of their metadata. (As
    ``keep=`` it would keep about 20%.)

    Args:
        p: The probability of being true (of dropping, as ``filter_``), ``0 <= p <= 1``.
        seed: Seed for a random generator of this filter's own, for a
            reproducible sample. ``None`` (the default) draws from the
            ``random`` module's shared generator, as ProxyStore does, so
            ``random.seed(...)`` makes the sample reproducible.

    Raises:
        ValueError: If ``p`` is outside ``[0, 1]`` (or NaN).

    Example:
        ```python
        drop = SamplingFilter(0.25, seed=0)
        dropped = sum(drop({}) for _ in range(1000))  # about 250
        ```
    """

    def __init__(self, p: float, *, seed: int | None = None) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"sampling probability p must be within [0, 1], got {p!r}")
        self.p = float(p)
        self._random: Callable[[], float] = (
            random.random if seed is None else random.Random(seed).random
        )

    def __call__(self, metadata: Mapping[str, Any]) -> bool:
        """Return True with probability ``p``."""
        # ``<`` makes p=0 never and p=1 always true; ProxyStore's ``<=`` differs
        # only when the generator returns exactly p (probability 2**-53).
        return self._random() < self.p

    def __repr__(self) -> str:
        return f"SamplingFilter({self.p!r})"


class KeyEquals:
    """True when the metadata has ``key`` and its value equals ``value``.

    False when ``key`` is missing. A neutral predicate: ``keep=KeyEquals(...)``
    keeps the matching objects, ``filter_=KeyEquals(...)`` drops them.

    Args:
        key: The metadata key to look at.
        value: The value to compare with ``==``.

    Example:
        ```python
        is_image = KeyEquals("kind", "image")
        assert is_image({"kind": "image"}) and not is_image({"kind": "text"})
        assert not is_image({})
        ```
    """

    def __init__(self, key: str, value: Any) -> None:
        self.key = key
        self.value = value

    def __call__(self, metadata: Mapping[str, Any]) -> bool:
        """Return whether ``metadata[key] == value`` (False if ``key`` is missing)."""
        found = metadata.get(self.key, _ABSENT)
        return found is not _ABSENT and bool(found == self.value)

    def __repr__(self) -> str:
        return f"KeyEquals({self.key!r}, {self.value!r})"


class MetadataMatches:
    """True when the metadata has every given ``key=value`` pair.

    A missing key counts as a mismatch; with no pairs it is always true. A
    neutral predicate (it was called ``MetadataFilter`` before, a name that
    did not say which way it cuts).

    Args:
        **equals: The required metadata values.

    Example:
        ```python
        matches = MetadataMatches(kind="image", channel=3)
        assert matches({"kind": "image", "channel": 3, "extra": 1})
        assert not matches({"kind": "image"})
        ```
    """

    def __init__(self, **equals: Any) -> None:
        self.equals = dict(equals)

    def __call__(self, metadata: Mapping[str, Any]) -> bool:
        """Return whether every pair is in ``metadata``."""
        for key, value in self.equals.items():
            found = metadata.get(key, _ABSENT)
            if found is _ABSENT or found != value:
                return False
        return True

    def __repr__(self) -> str:
        pairs = ", ".join(f"{k}={v!r}" for k, v in self.equals.items())
        return f"MetadataMatches({pairs})"


def all_of(*predicates: MetadataPredicate) -> MetadataPredicate:
    """True when every predicate is true (true when there are none).

    Predicates run in order and stop at the first false one. Under ``keep=``
    an object is kept only if every predicate holds; under ``filter_=`` it is
    dropped only if every predicate holds.

    Args:
        *predicates: The predicates to combine.

    Returns:
        The combined predicate.
    """
    chosen = tuple(predicates)

    def every(metadata: dict[str, Any]) -> bool:
        return all(p(metadata) for p in chosen)

    return every


def any_of(*predicates: MetadataPredicate) -> MetadataPredicate:
    """True when at least one predicate is true (false when there are none).

    Predicates run in order and stop at the first true one.

    Args:
        *predicates: The predicates to combine.

    Returns:
        The combined predicate.
    """
    chosen = tuple(predicates)

    def some(metadata: dict[str, Any]) -> bool:
        return any(p(metadata) for p in chosen)

    return some


def negate(predicate: MetadataPredicate) -> MetadataPredicate:
    """True when ``predicate`` is false.

    Args:
        predicate: The predicate to invert.

    Returns:
        The inverted predicate.
    """

    def opposite(metadata: dict[str, Any]) -> bool:
        return not predicate(metadata)

    return opposite
