"""Smoke test of the resolve_async benchmark: every size is measured in its four forms.

Nothing about speed is asserted: only that each form ran and resolved every
proxy to the right object (the benchmark raises otherwise), and that the
thread path is forced only while it is measured.
"""

from __future__ import annotations

import pytest
from proxyflow_bench.asyncio_resolve import FORMS, main, measure

from proxyflow.proxy import resolving

pytestmark = pytest.mark.timeout(120)


def test_every_size_is_measured_in_four_forms(redis_url: str) -> None:
    rows = measure([1024, 4096], 20, 1, redis_url)
    assert [row.size for row in rows] == [1024, 4096]
    for row in rows:
        assert sorted(row.rates) == sorted(FORMS)
        assert all(len(values) == 1 and values[0] > 0 for values in row.rates.values())
    assert resolving._force_thread is False


def test_bad_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--count", "0"])
    assert "at least 1" in capsys.readouterr().err
