"""Smoke test of the durable-broker benchmark: every case is measured and the table renders.

Nothing about speed is asserted: only that each case ran against real servers.
"""

from __future__ import annotations

import pytest
from proxyflow_bench.durable import CASES, main, measure, render, servers

from proxyflow.testing.nats_server import find_nats_server
from proxyflow.testing.redis_server import find_redis_server

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        find_redis_server() is None or find_nats_server() is None,
        reason="needs redis-server and nats-server",
    ),
]


def test_every_case_is_measured_and_rendered() -> None:
    with servers(None, None) as urls:
        rows = measure(urls, count=200, rounds=20, repeat=1)
    assert [row.case for row in rows] == [case for case, _, _ in CASES]
    assert all(row.latency_us > 0 for row in rows)
    assert all(row.consume and row.consume > 0 for row in rows if "pub/sub" not in row.case)
    table = render(rows, 200, 20, 1)
    assert "Streams shim / raw redis-py" in table
    assert "JetStream shim / raw nats-py" in table


def test_a_count_below_one_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--count", "0"])
    assert "at least 1" in capsys.readouterr().err


def test_only_one_broker_measures_its_cases_alone() -> None:
    with servers(None, None, only="nats") as urls:
        assert set(urls) == {"nats"}
        rows = measure(urls, count=50, rounds=5, repeat=1)
    assert [row.case for row in rows] == [case for case, server, _ in CASES if server == "nats"]
    table = render(rows, 50, 5, 1)
    assert "asyncio JetStream shim / raw nats-py" in table
    assert "Streams shim" not in table  # no Redis case, so no Redis ratio
