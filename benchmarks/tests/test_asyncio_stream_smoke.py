"""Smoke test of the asyncio-against-sync stream benchmark: every row is measured.

Nothing about speed is asserted: only that each shim and store kind ran in
both forms and by hand, and every object arrived (the benchmark raises otherwise).
"""

from __future__ import annotations

import pytest
from proxyflow_bench.asyncio_stream import main, measure

pytestmark = pytest.mark.timeout(300)


def test_every_shim_and_store_is_measured_for_both_forms(redis_url: str) -> None:
    rows = measure(["queue", "zmq", "redis"], ["inline", "file"], 200, 1, redis_url)
    assert [(row.shim.split()[0], row.store) for row in rows] == [
        (shim, store) for shim in ("queue", "ZeroMQ", "Redis") for store in ("inline", "file")
    ]
    assert all(row.sync > 0 and row.asynchronous > 0 and row.hand_written > 0 for row in rows)


def test_an_unknown_shim_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--shims", "carrier-pigeon"])
    assert "unknown shims" in capsys.readouterr().err
