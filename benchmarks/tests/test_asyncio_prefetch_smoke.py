"""Smoke test of the asyncio prefetch benchmark: every row is measured in its three forms.

Nothing about speed is asserted: only that each shim and amount of work ran with
the asyncio consumer at prefetch 0 and k and the sync consumer at k, and
every object arrived (the benchmark raises otherwise).
"""

from __future__ import annotations

import pytest
from proxyflow_bench.asyncio_prefetch import main, measure

pytestmark = pytest.mark.timeout(300)


def test_every_shim_and_amount_of_work_is_measured_in_three_forms(redis_url: str) -> None:
    rows = measure(["queue", "zmq", "redis"], [0, 1], 20, 4, 1, redis_url)
    assert [(row.shim.split()[0], row.digests) for row in rows] == [
        (shim, work) for shim in ("queue", "ZeroMQ", "Redis") for work in (0, 1)
    ]
    for row in rows:
        assert len(row.async_p0) == len(row.async_pk) == len(row.sync_pk) == 1
        assert min(row.async_p0 + row.async_pk + row.sync_pk) > 0


@pytest.mark.parametrize(
    "argv", [["--shims", "carrier-pigeon"], ["--count", "5000"], ["--prefetch", "0"]]
)
def test_bad_arguments_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(argv)
    err = capsys.readouterr().err
    assert "unknown shims" in err or "--count must be" in err
