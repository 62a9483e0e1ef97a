from __future__ import annotations

import math

import pytest

from proxyflow.stream.filters import (
    KeyEquals,
    MetadataFilter,
    NullFilter,
    SamplingFilter,
    all_of,
    any_of,
    negate,
)


def test_null_filter_keeps_everything() -> None:
    keep = NullFilter()
    assert keep({}) is True
    assert keep({"a": 1}) is True
    assert repr(keep) == "NullFilter()"


@pytest.mark.parametrize("p", [-0.1, 1.01, math.nan, math.inf])
def test_sampling_filter_validates_p(p: float) -> None:
    with pytest.raises(ValueError):
        SamplingFilter(p)


def test_sampling_filter_extremes_and_rate() -> None:
    assert not any(SamplingFilter(0.0)({}) for _ in range(200))
    assert all(SamplingFilter(1.0)({}) for _ in range(200))
    keep = SamplingFilter(0.3, seed=42)
    kept = sum(keep({}) for _ in range(5000))
    assert 1300 < kept < 1700


def test_sampling_filter_seed_is_reproducible() -> None:
    a, b = SamplingFilter(0.5, seed=7), SamplingFilter(0.5, seed=7)
    assert [a({}) for _ in range(100)] == [b({}) for _ in range(100)]


def test_key_equals() -> None:
    keep = KeyEquals("kind", "image")
    assert keep({"kind": "image"})
    assert not keep({"kind": "text"})
    assert not keep({})
    assert KeyEquals("v", None)({"v": None})
    assert not KeyEquals("v", None)({})


def test_metadata_filter_matches_all_pairs() -> None:
    keep = MetadataFilter(kind="image", channel=3)
    assert keep({"kind": "image", "channel": 3, "other": 0})
    assert not keep({"kind": "image", "channel": 4})
    assert not keep({"kind": "image"})
    assert MetadataFilter()({})
    assert "kind='image'" in repr(keep)


def test_combinators() -> None:
    is_a = KeyEquals("k", "a")
    is_b = KeyEquals("k", "b")
    assert any_of(is_a, is_b)({"k": "b"})
    assert not any_of(is_a, is_b)({"k": "c"})
    assert not any_of()({})
    assert all_of()({})
    assert all_of(is_a, NullFilter())({"k": "a"})
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
