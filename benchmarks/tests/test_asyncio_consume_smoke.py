"""Smoke test of the asyncio consumer benchmark: every size is measured in its four forms.

Nothing about speed is asserted: only that each form ran and read every
object back (the benchmark raises otherwise), and that the thread form's
store really has no native read.
"""

from __future__ import annotations

import pytest
from proxyflow_bench.asyncio_consume import FORMS, ThreadReads, main, measure

pytestmark = pytest.mark.timeout(120)


def test_every_size_is_measured_in_four_forms(redis_url: str) -> None:
    rows = measure([1024, 4096], 20, 1, redis_url)
    assert [row.size for row in rows] == [1024, 4096]
    for row in rows:
        assert sorted(row.rates) == sorted(FORMS)
        assert all(len(values) == 1 and values[0] > 0 for values in row.rates.values())


def test_the_thread_form_hides_the_native_read(redis_url: str) -> None:
    connector = ThreadReads(redis_url, prefix="bench-consume-smoke:")
    try:
        assert not callable(getattr(connector, "get_async", None))
    finally:
        connector.close()


def test_bad_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--count", "0"])
    assert "at least 1" in capsys.readouterr().err
