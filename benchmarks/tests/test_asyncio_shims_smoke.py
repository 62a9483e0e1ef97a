"""Smoke test of the asyncio-against-sync shim benchmark: every row is measured.

Nothing about speed is asserted: only that each shim and case ran with both forms.
"""

from __future__ import annotations

import pytest
from proxyflow_bench.asyncio_shims import main, measure

pytestmark = pytest.mark.timeout(300)


def test_every_shim_and_case_is_measured_for_both_forms() -> None:
    rows = measure(["queue", "zmq"], count=2000, repeat=1)
    assert [(row.shim.split()[0], row.case.split()[0]) for row in rows] == [
        (shim, case) for shim in ("queue", "ZeroMQ") for case in ("send", "receive", "stream")
    ]
    assert all(row.sync > 0 and row.asynchronous > 0 for row in rows)


def test_an_unknown_shim_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--shims", "carrier-pigeon"])
    assert "unknown shims" in capsys.readouterr().err
