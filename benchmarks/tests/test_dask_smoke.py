"""Smoke test of the Dask comparison: a --quick run prints every case's row.

Nothing about speed is asserted: only that each case ran and that the bytes
through the client show what each case is about.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from proxyflow_bench.dask import main

pytestmark = pytest.mark.timeout(300)


def test_quick_dask_run(tmp_path: Path) -> None:
    out = tmp_path / "dask.json"
    code = main(
        ["--quick", "--sizes", "1MiB", "--cases", "submit,proxyflow-file", "--json", str(out)]
    )
    assert code == 0
    results = {r["case"]: r for r in json.loads(out.read_text())["results"]}
    assert set(results) == {"submit", "proxyflow-file"}
    assert results["submit"]["client_bytes_per_task"] >= 1 << 20  # the array itself
    assert results["proxyflow-file"]["client_bytes_per_task"] < 16 * 1024  # a proxy
    assert all(r["tasks_per_second"] > 0 for r in results.values())
