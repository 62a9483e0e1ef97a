"""The benchmark picture: which ratios it draws, in which order, and that it writes a PNG."""

from __future__ import annotations

import importlib.util
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from proxyflow_bench.plot import Case, bars_from_rows, cases_of, main, run_title, write_plot

RESULTS = Path(__file__).resolve().parents[1] / "results" / "latest.json"
# Drawing needs matplotlib, which the bench environment has (`hatch run bench:test`).
needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None, reason="matplotlib is not installed"
)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _row(config: str, system: str, ratio: float | None, **extra: Any) -> dict[str, Any]:
    broker, _, store = config.partition("-")
    row: dict[str, Any] = {
        "config": config,
        "broker": broker,
        "store": store,
        "kind": extra.get("kind", "bytes"),
        "size": extra.get("size", 1024),
        "system": system,
        "errors": extra.get("errors", []),
        "ratio": {} if ratio is None else {"throughput": ratio},
    }
    return row


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    width, height = struct.unpack(">II", data[16:24])
    return width, height


ROWS = [
    _row("queue-file", "raw", None),
    _row("queue-file", "proxyflow", 0.8),
    _row("redisq-redis", "proxyflow", 1.1),
    _row("redis-inline", "proxyflow", 3.0),
    _row("redis-file", "proxyflow", None, errors=["boom"]),
    _row("zmq-file", "proxyflow", 0.9),
    _row("zmq-file", "proxystore", 0.3),
    _row("zmq-inline", "proxyflow", 1.1, kind="numpy", size=1024 * 1024),
    _row("nats-file", "proxyflow", 0.7),
    {"config": "in-process", "kind": "bytes", "size": 1024, "system": "memcpy", "errors": []},
]


def test_bars_are_the_ratios_of_proxyflow_and_proxystore_rows() -> None:
    bars = bars_from_rows(ROWS)
    assert {bar.system for bar in bars} == {"proxyflow", "proxystore"}
    ratios = {(bar.case.config, bar.system, bar.kind): bar.ratio for bar in bars}
    assert ratios[("zmq-file", "proxystore", "bytes")] == 0.3
    assert ratios[("zmq-inline", "proxyflow", "numpy")] == 1.1
    assert ratios[("redis-file", "proxyflow", "bytes")] is None  # failed: shown as such
    assert ("queue-file", "raw", "bytes") not in ratios


def test_cases_are_grouped_by_broker_in_a_fixed_order() -> None:
    cases = cases_of(bars_from_rows(ROWS))
    assert [case.config for case in cases] == [
        "zmq-inline",
        "zmq-file",
        "redis-inline",
        "redis-file",
        "redisq-redis",
        "queue-file",
        "nats-file",  # a broker the picture does not know goes last, under its own name
    ]
    assert cases[0].broker_label == "ZeroMQ"
    assert cases[-1].broker_label == "nats"
    assert Case("redis-redis", "redis", "redis").label == "Redis store"


def test_run_title_names_the_machine() -> None:
    title = run_title(
        {"nproc": 2, "cpu_model": "EPYC", "python": "3.11.7", "loadavg_before": [0.4],
         "loadavg_after": [2.25]}
    )  # fmt: skip
    assert title == "2 x EPYC, Python 3.11.7, load 0.40->2.25"


@needs_matplotlib
def test_write_plot_draws_one_panel_per_size(tmp_path: Path) -> None:
    one_size = tmp_path / "one.png"
    two_sizes = tmp_path / "two.png"
    write_plot(str(one_size), [r for r in ROWS if r.get("size") == 1024], title="machine")
    write_plot(str(two_sizes), ROWS, title="machine")
    width_one, _ = _png_size(one_size)
    width_two, _ = _png_size(two_sizes)
    assert width_two > width_one  # a second size adds a panel beside the first


@needs_matplotlib
def test_write_plot_of_no_results_still_writes_a_picture(tmp_path: Path) -> None:
    out = tmp_path / "empty.png"
    write_plot(str(out), [])
    assert min(_png_size(out)) > 0


@needs_matplotlib
def test_main_redraws_a_saved_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.png"
    assert main([str(RESULTS), str(out)]) == 0
    assert min(_png_size(out)) > 0
    assert "plot written" in capsys.readouterr().out


def test_main_rejects_a_file_that_is_not_a_run(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"no": "results"}))
    out = tmp_path / "bench.png"
    assert main([str(bad), str(out)]) == 2
    assert main([str(tmp_path / "missing.json"), str(out)]) == 2
    assert not out.exists()
