"""Run the benchmark: every configuration, size, kind and repeat, for every system.

For one configuration, the pairs of every system are started together and
the trials are interleaved (repeat ``r`` of raw, proxyflow and ProxyStore run
back to back, in a rotating order), so the machine's noise hits each system
alike and the ratios compare trials that ran seconds apart.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from proxyflow_bench.environment import BenchResources, free_port
from proxyflow_bench.metrics import aggregate, trial_metrics
from proxyflow_bench.runner import Pair, PairError
from proxyflow_bench.spec import CONFIGS, NUMPY_MIN_SIZE, TrialSpec, format_size, window_for

__all__ = ["SuiteOptions", "memcpy_bound", "run_suite"]


@dataclass
class SuiteOptions:
    """What to run (see ``proxyflow_bench.cli`` for the command-line flags)."""

    configs: Sequence[str]
    sizes: Sequence[int]
    kinds: Sequence[str]
    systems: Sequence[str]
    repeats: int = 3
    target_s: float = 0.3
    min_count: int = 20
    max_count: int = 2000
    fixed_count: int = 0
    latency_count: int = 0
    profile_dir: str = ""
    profile_filter: Sequence[str] = field(default_factory=tuple)
    prefetch: int = 0


def _cells(options: SuiteOptions) -> list[tuple[str, int]]:
    cells = []
    for size in options.sizes:
        for kind in options.kinds:
            if kind == "numpy" and size < NUMPY_MIN_SIZE and len(options.sizes) > 1:
                continue
            cells.append((kind, size))
    return cells


def _warm_for(size: int) -> int:
    if size >= 16 * 1024 * 1024:
        return 3
    if size >= 1024 * 1024:
        return 5
    return 20


def _env(
    system: str, config_name: str, res: BenchResources, ctx: Any, prefetch: int = 0
) -> dict[str, Any]:
    config = CONFIGS[config_name]
    env: dict[str, Any] = {
        "topic": f"{res.prefix}-{system}-{config_name}",
        "prefix": f"{res.prefix}-{system[:2]}",
        "redis_url": res.redis_url,
        "file_dir": res.file_dir(f"{system}-{config_name}"),
        "prefetch": prefetch,
    }
    if config.broker == "zmq":
        env["zmq_address"] = f"tcp://127.0.0.1:{free_port()}"
    if config.broker == "queue":
        env["mp_queue"] = ctx.Queue()
    return env


def memcpy_bound(size: int, kind: str, target_s: float = 0.05) -> dict[str, Any]:
    """Measure an in-process copy of the payload: the ceiling any transport can reach."""
    from proxyflow_bench.protocol import make_payload

    obj = make_payload(kind, size)
    copy: Callable[[], Any] = obj.copy if kind == "numpy" else (lambda: bytearray(obj))
    copy()
    count = 0
    start = time.perf_counter()
    cpu0 = time.process_time()
    while True:
        copy()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= target_s and count >= 5:
            break
    ops = count / elapsed
    return {
        "objects_per_s": ops,
        "mb_per_s": ops * size / 1e6,
        "cpu_producer_us": (time.process_time() - cpu0) / count * 1e6,
        "count": count,
    }


Progress = Callable[[str], None]


def run_suite(
    options: SuiteOptions, res: BenchResources, progress: Progress | None = None
) -> list[dict[str, Any]]:
    """Run every trial and return one row per (config, kind, size, system).

    Each row holds ``trials`` (per repeat), ``median``, ``spread`` and
    ``errors``; ratios are added by `proxyflow_bench.report.add_ratios`.
    """
    say = progress or (lambda _msg: None)
    ctx = mp.get_context("spawn")
    rows: dict[tuple[str, str, int, str], dict[str, Any]] = {}
    cells = _cells(options)
    for config_name in options.configs:
        config = CONFIGS[config_name]
        pairs: dict[str, Pair | None] = {}
        start_errors: dict[str, str] = {}

        def start(
            system: str, cfg: str = config_name, start_errors: dict[str, str] = start_errors
        ) -> Pair | None:
            pair = Pair(system, cfg, _env(system, cfg, res, ctx, options.prefetch))
            try:
                pair.start()
            except PairError as exc:
                start_errors[system] = str(exc)
                say(f"[red]{system}/{cfg} failed to start[/red]: {str(exc)[-400:]}")
                pair.stop()
                return None
            return pair

        for system in options.systems:
            say(f"starting {system} on {config.title}")
            pairs[system] = start(system)
        try:
            for kind, size in cells:
                window, ack_every = window_for(size)
                for repeat in range(options.repeats):
                    order = list(options.systems)
                    shift = repeat % len(order)
                    order = order[shift:] + order[:shift]
                    for system in order:
                        key = (config_name, kind, size, system)
                        row = rows.setdefault(
                            key,
                            {
                                "config": config_name,
                                "broker": config.broker,
                                "store": config.store,
                                "kind": kind,
                                "size": size,
                                "system": system,
                                "window": window,
                                "trials": [],
                                "errors": [],
                            },
                        )
                        pair = pairs.get(system)
                        if pair is None:
                            if system in start_errors and not row["errors"]:
                                row["errors"].append(start_errors[system][-2000:])
                            continue
                        profile = ""
                        if options.profile_dir and _wants_profile(options, key):
                            os.makedirs(options.profile_dir, exist_ok=True)
                            profile = os.path.join(
                                options.profile_dir,
                                f"{system}-{config_name}-{kind}-{size}-r{repeat}",
                            )
                        spec = TrialSpec(
                            kind=kind,
                            size=size,
                            window=window,
                            ack_every=ack_every,
                            warm=_warm_for(size),
                            target_s=options.target_s,
                            min_count=options.min_count,
                            max_count=options.max_count,
                            count=options.fixed_count,
                            latency_count=options.latency_count,
                            profile=profile,
                            seed=repeat,
                        )
                        try:
                            producer, consumer = pair.run(spec)
                        except PairError as exc:
                            row["errors"].append(str(exc)[-2000:])
                            say(f"[red]{system} {config_name} {kind} {format_size(size)}[/red]")
                            pair.stop()
                            pairs[system] = start(system)
                            continue
                        metrics = trial_metrics(size, producer, consumer)
                        metrics["repeat"] = repeat
                        row["trials"].append(metrics)
                    say(
                        f"{config_name} {kind} {format_size(size)} repeat {repeat + 1}: "
                        + ", ".join(
                            f"{s} {_last_ops(rows.get((config_name, kind, size, s)))}"
                            for s in options.systems
                        )
                    )
        finally:
            for pair in pairs.values():
                if pair is not None:
                    pair.stop()
            res.cleanup_redis()
    out = []
    for row in rows.values():
        row.update(aggregate(row["trials"]) if row["trials"] else {"median": {}, "spread": {}})
        out.append(row)
    return out


def _wants_profile(options: SuiteOptions, key: tuple[str, str, int, str]) -> bool:
    if not options.profile_filter:
        return True
    label = "-".join(str(part) for part in key)
    return any(token in label for token in options.profile_filter)


def _last_ops(row: dict[str, Any] | None) -> str:
    if not row or not row["trials"]:
        return "-"
    return f"{row['trials'][-1]['objects_per_s']:.0f}/s"


def memcpy_rows(options: SuiteOptions) -> list[dict[str, Any]]:
    """Return one in-process memcpy row per (kind, size) cell."""
    rows = []
    for kind, size in _cells(options):
        trials = [memcpy_bound(size, kind) for _ in range(options.repeats)]
        ops = [t["objects_per_s"] for t in trials]
        rows.append(
            {
                "config": "in-process",
                "kind": kind,
                "size": size,
                "system": "memcpy",
                "trials": trials,
                "median": {
                    "objects_per_s": statistics.median(ops),
                    "mb_per_s": statistics.median(t["mb_per_s"] for t in trials),
                    "cpu_producer_us": statistics.median(t["cpu_producer_us"] for t in trials),
                },
                "spread": {"objects_per_s": [min(ops), max(ops)]},
                "errors": [],
            }
        )
    return rows
