from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from proxyflow.cli.app import app
from proxyflow.cli.demo import DemoSettings, run_demo
from proxyflow.cli.options import BrokerSpec, StoreSpec

runner = CliRunner()

SMALL = ["demo", "--count", "8", "--size", "64KiB", "--workers", "2", "--quiet"]


def _per_object_bytes(output: str) -> int:
    match = re.search(r"\((\d+) B/object\)", output)
    assert match, output
    return int(match.group(1))


def test_demo_small_run_is_correct_and_bypasses_the_dispatcher() -> None:
    result = runner.invoke(app, SMALL)
    assert result.exit_code == 0, result.output
    assert "8/8 correct" in result.output
    assert "64.0 KiB" in result.output
    assert _per_object_bytes(result.output) < 1024
    assert re.search(r"proxies resolved by dispatcher\s*│\s*0\s", result.output)


def test_run_demo_reports_what_moved_where(tmp_path: Path) -> None:
    store_dir = tmp_path / "objects"
    settings = DemoSettings(
        size=100_000, count=6, workers=2, batch_size=4, store=StoreSpec("file", str(store_dir))
    )
    report = run_demo(settings)
    assert report.ok
    assert report.correct == 6
    assert report.dispatched == 6
    assert report.resolved_by_dispatcher == 0
    assert report.bytes_produced == report.worker_bytes == 600_000
    assert 0 < report.dispatcher_bytes_per_object < 1024
    assert report.wall_time > 0
    # Workers resolved with evict=True: nothing is left in the store directory.
    assert [p for p in store_dir.iterdir() if not p.name.startswith(".")] == []


def test_progress_bars_do_not_break_the_run() -> None:
    result = runner.invoke(app, ["demo", "--count", "4", "--size", "4KiB", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "4/4 correct" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--size", "12XB"], "'12XB' is not a size"),
        (["--size", "0"], "out of range"),
        (["--count", "0"], "--count"),
        (["--workers", "0"], "--workers"),
        (["--batch-size", "-1"], "--batch-size"),
        (["--broker", "kafka://localhost:9092"], "unknown broker"),
        (["--store", "s3://bucket"], "unknown store"),
    ],
)
def test_bad_options_exit_2_with_a_clear_message(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["demo", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_store_path_that_is_a_file_is_rejected(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    result = runner.invoke(app, ["demo", "--store", str(blocker)])
    assert result.exit_code == 2
    assert "not a directory" in result.output


def test_unreachable_redis_broker_fails_fast_and_cleanly() -> None:
    start = time.monotonic()
    result = runner.invoke(app, ["demo", "--broker", "redis://127.0.0.1:1/0"])
    assert time.monotonic() - start < 10
    assert result.exit_code == 2
    assert "cannot reach Redis at redis://127.0.0.1:1/0" in result.output
    assert "Traceback" not in result.output


def test_unreachable_redis_store_fails_fast_and_cleanly() -> None:
    result = runner.invoke(app, ["demo", "--store", "redis://127.0.0.1:1/0"])
    assert result.exit_code == 2
    assert "--store" in result.output
    assert "cannot reach Redis" in result.output


def test_demo_over_redis_broker_and_store(redis_url: str) -> None:
    result = runner.invoke(app, [*SMALL, "--broker", redis_url, "--store", redis_url])
    assert result.exit_code == 0, result.output
    assert "8/8 correct" in result.output
    assert "Redis pub/sub" in result.output


def test_demo_over_redis_queue_with_batches(redis_url: str) -> None:
    queue_url = redis_url.replace("redis://", "redis-queue://")
    result = runner.invoke(app, [*SMALL, "--broker", queue_url, "--batch-size", "3"])
    assert result.exit_code == 0, result.output
    assert "8/8 correct" in result.output
    assert _per_object_bytes(result.output) < 1024


def test_run_demo_over_redis_keeps_nothing(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    before = client.dbsize()
    report = run_demo(
        DemoSettings(
            size=2048,
            count=5,
            broker=BrokerSpec("redis", redis_url),
            store=StoreSpec("redis", redis_url),
        )
    )
    assert report.ok
    assert client.dbsize() == before  # every object was evicted by the worker that read it
    client.close()


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "proxyflow.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("proxyflow ")


def test_help_lists_the_demo_options() -> None:
    result = runner.invoke(app, ["demo", "--help"])
    assert result.exit_code == 0
    for option in (
        "--size",
        "--count",
        "--workers",
        "--batch-size",
        "--broker",
        "--store",
        "--quiet",
    ):
        assert option in result.output


def test_a_wrong_result_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    import proxyflow.cli.demo as demo_module

    def expect_other_content(index: int, size: int) -> np.typing.NDArray[np.uint8]:
        return np.zeros(size, dtype=np.uint8) if index == 2 else real(index, size)

    real = demo_module.make_chunk
    # Only the dispatcher's expectation changes; the workers still compute on real chunks.
    monkeypatch.setattr(demo_module, "make_chunk", expect_other_content)
    result = runner.invoke(app, ["demo", "--count", "4", "--size", "1KiB", "--quiet"])
    assert result.exit_code == 1
    assert "3/4 correct" in result.output
    assert "wrong or missing: 2" in result.output


def test_demo_on_a_local_dask_cluster() -> None:
    pytest.importorskip("distributed")
    args = ["demo", "--count", "6", "--size", "256KiB", "--workers", "2", "--quiet"]
    result = runner.invoke(app, [*args, "--engine", "dask", "--timeout", "120"])
    assert result.exit_code == 0, result.output
    assert "6/6 correct" in result.output
    assert "Dask local cluster, 2 worker processes" in result.output
    assert _per_object_bytes(result.output) < 1024
    assert re.search(r"proxies resolved by dispatcher\s*│\s*0\s", result.output)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--engine", "spark"], "unknown engine"),
        (["--scheduler", "tcp://127.0.0.1:8786"], "needs --engine dask"),
        (["--engine", "dask", "--scheduler", "127.0.0.1:8786"], "tcp://host:port"),
    ],
)
def test_bad_engine_options(args: list[str], message: str) -> None:
    result = runner.invoke(app, [*SMALL, *args])
    assert result.exit_code == 2
    assert message in result.output
