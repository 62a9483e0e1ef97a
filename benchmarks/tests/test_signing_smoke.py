"""Smoke test of the signing benchmark: every case is measured in both forms.

Nothing about speed is asserted.
"""

from __future__ import annotations

import pytest
from proxyflow_bench.signing import Case, main, measure, table

pytestmark = pytest.mark.timeout(300)


def test_every_case_is_measured_signed_and_unsigned() -> None:
    selected = [Case("1 KiB inline", 1024, "inline", 20), Case("1 KiB file", 1024, "file", 20)]
    rows = measure(selected, repeat=2)
    assert [row.case for row in rows] == selected
    assert all(len(row.unsigned) == len(row.signed) == 2 for row in rows)
    assert all(value > 0 for row in rows for value in (*row.unsigned, *row.signed))
    assert table(rows).count("\n") == 3


def test_a_bad_repeat_is_refused() -> None:
    with pytest.raises(SystemExit):
        main(["--repeat", "0"])
