"""Smoke test of the benchmark harness: a --quick run writes the expected JSON and plot.

No timing number is asserted (the machine is shared and noisy): only that every
case ran, the document has its keys, and the ratios are positive numbers.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from proxyflow_bench.cli import main
from proxyflow_bench.spec import format_size, parse_size, window_for

pytestmark = pytest.mark.timeout(240)

# The plot needs matplotlib, which the bench environment has (`hatch run bench:test`);
# elsewhere the run is checked without it.
HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def test_size_parsing_and_window() -> None:
    assert parse_size("1KiB") == 1024
    assert parse_size("16M") == 16 * 1024 * 1024
    assert format_size(64 * 1024) == "64 KiB"
    with pytest.raises(ValueError, match="not a size"):
        parse_size("lots")
    window, ack_every = window_for(16 * 1024 * 1024)
    assert window >= 2
    assert 1 <= ack_every <= window


def test_quick_run_writes_json_and_plot(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    plot = tmp_path / "bench.png"
    code = main(
        [
            "--quick",
            "--cases", "zmq-inline,queue-file",
            "--systems", "raw,proxyflow",
            "--sizes", "1KiB",
            "--repeat", "1",
            "--json", str(out),
            *(["--plot", str(plot)] if HAVE_MATPLOTLIB else []),
        ]
    )  # fmt: skip
    assert code == 0
    doc = json.loads(out.read_text())
    assert {"command", "machine", "options", "results", "dispatcher", "targets"} <= set(doc)
    assert doc["machine"]["nproc"] >= 1
    rows = {(r["config"], r["system"]): r for r in doc["results"]}
    for config in ("zmq-inline", "queue-file"):
        for system in ("raw", "proxyflow"):
            row = rows[(config, system)]
            assert row["errors"] == []
            median = row["median"]
            for key in ("objects_per_s", "mb_per_s", "latency_p50_us", "latency_p99_us",
                        "cpu_producer_us", "cpu_consumer_us", "bytes_per_event"):  # fmt: skip
                assert median[key] > 0, (config, system, key)
            assert all(t["lost"] == 0 and t["wrong_size"] == 0 for t in row["trials"])
        ratio = rows[(config, "proxyflow")]["ratio"]
        assert ratio["throughput"] > 0
        assert ratio["latency_p50"] > 0
    assert ("in-process", "memcpy") in rows
    dispatched = {d["system"]: d for d in doc["dispatcher"]}
    assert dispatched["proxyflow"]["errors"] == []
    assert dispatched["proxyflow"]["median"]["bytes_per_object"] > 0
    targets = {t["case"]: t for t in doc["targets"]}
    assert targets["1 KiB zmq, inline"]["measured"] > 0
    if HAVE_MATPLOTLIB:
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
