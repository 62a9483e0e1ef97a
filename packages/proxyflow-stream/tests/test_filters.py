from __future__ import annotations

import math
import random

import pytest

import proxyflow.stream
from proxyflow.stream._filtering import selection
from proxyflow.stream.filters import (
    KeyEquals,
    MetadataMatches,
    NullFilter,
    SamplingFilter,
    all_of,
    any_of,
    negate,
)


def test_null_filter_is_always_false_as_in_proxystore() -> None:
    drop = NullFilter()
    assert drop({}) is False
    assert drop({"a": 1}) is False
    assert repr(drop) == "NullFilter()"


@pytest.mark.parametrize("p", [-0.1, 1.01, math.nan, math.inf])
def test_sampling_filter_validates_p(p: float) -> None:
    with pytest.raises(ValueError):
        SamplingFilter(p)


def test_sampling_filter_is_true_with_probability_p() -> None:
    assert not any(SamplingFilter(0.0)({}) for _ in range(200))
    assert all(SamplingFilter(1.0)({}) for _ in range(200))
    drop = SamplingFilter(0.2, seed=42)
    dropped = sum(drop({}) for _ in range(5000))
    assert 900 < dropped < 1100  # ProxyStore: True (drop) with probability p


def test_sampling_filter_seed_is_reproducible() -> None:
    a, b = SamplingFilter(0.5, seed=7), SamplingFilter(0.5, seed=7)
    assert [a({}) for _ in range(100)] == [b({}) for _ in range(100)]


def test_sampling_filter_without_seed_follows_the_random_module() -> None:
    drop = SamplingFilter(0.5)
    random.seed(11)
    first = [drop({}) for _ in range(100)]
    random.seed(11)
    assert [drop({}) for _ in range(100)] == first


def test_key_equals() -> None:
    is_image = KeyEquals("kind", "image")
    assert is_image({"kind": "image"})
    assert not is_image({"kind": "text"})
    assert not is_image({})
    assert KeyEquals("v", None)({"v": None})
    assert not KeyEquals("v", None)({})


def test_metadata_matches_every_pair() -> None:
    matches = MetadataMatches(kind="image", channel=3)
    assert matches({"kind": "image", "channel": 3, "other": 0})
    assert not matches({"kind": "image", "channel": 4})
    assert not matches({"kind": "image"})
    assert MetadataMatches()({})
    assert repr(matches) == "MetadataMatches(kind='image', channel=3)"


def test_the_directional_name_metadata_filter_is_gone() -> None:
    assert not hasattr(proxyflow.stream, "MetadataFilter")
    assert not hasattr(proxyflow.stream.filters, "MetadataFilter")


def test_combinators() -> None:
    is_a = KeyEquals("k", "a")
    is_b = KeyEquals("k", "b")
    assert any_of(is_a, is_b)({"k": "b"})
    assert not any_of(is_a, is_b)({"k": "c"})
    assert not any_of()({})
    assert all_of()({})
    assert all_of(is_a, negate(NullFilter()))({"k": "a"})
    assert not all_of(is_a, is_b)({"k": "a"})
    assert negate(is_a)({"k": "b"})
    assert not negate(is_a)({"k": "a"})


def test_all_of_short_circuits() -> None:
    calls: list[str] = []

    def never(md: dict[str, object]) -> bool:
        calls.append("never")
        return False

    def record(md: dict[str, object]) -> bool:
        calls.append("record")
        return True

    assert not all_of(never, record)({})
    assert any_of(record, never)({})
    assert calls == ["never", "record"]


def test_selection_gives_keep_and_filter_opposite_directions() -> None:
    is_a = KeyEquals("k", "a")
    assert selection(is_a, None, "X").drops({"k": "b"})
    assert not selection(is_a, None, "X").drops({"k": "a"})
    assert selection(None, is_a, "X").drops({"k": "a"})
    assert not selection(None, is_a, "X").drops({"k": "b"})
    assert not selection(None, None, "X").drops({})
    assert selection(None, NullFilter(), "X").predicate is None  # drops nothing: no call
    assert selection(NullFilter(), None, "X").drops({})  # keep=NullFilter keeps nothing
    with pytest.raises(TypeError, match="X\\(\\) takes keep="):
        selection(is_a, is_a, "X")
