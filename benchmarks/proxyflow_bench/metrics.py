"""Turn raw trial results into per-row metrics, medians, spreads and ratios."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

__all__ = ["aggregate", "percentile", "trial_metrics"]

METRICS = (
    "objects_per_s",
    "mb_per_s",
    "latency_p50_us",
    "latency_p99_us",
    "loaded_latency_p50_us",
    "loaded_latency_p99_us",
    "cpu_producer_us",
    "cpu_consumer_us",
    "bytes_per_event",
)


def percentile(values: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile (0-100) of ``values`` by linear interpolation."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def trial_metrics(size: int, producer: dict[str, Any], consumer: dict[str, Any]) -> dict[str, Any]:
    """Compute the metrics of one trial from both sides' results."""
    count = producer["count"]
    elapsed = max((consumer["last_ns"] - producer["start_ns"]) / 1e9, 1e-9)
    ops = count / elapsed
    loaded = [v / 1e3 for v in consumer["data_latency_ns"]]
    unloaded = [v / 1e3 for v in consumer["latency_ns"]]
    return {
        "count": count,
        "elapsed_s": elapsed,
        "objects_per_s": ops,
        "mb_per_s": ops * size / 1e6,
        "latency_p50_us": percentile(unloaded, 50),
        "latency_p99_us": percentile(unloaded, 99),
        "latency_samples": len(unloaded),
        "loaded_latency_p50_us": percentile(loaded, 50),
        "loaded_latency_p99_us": percentile(loaded, 99),
        "cpu_producer_us": producer["cpu_s"] / count * 1e6,
        "cpu_consumer_us": consumer["cpu_s"] / max(consumer["count"], 1) * 1e6,
        "bytes_per_event": producer["event_bytes"],
        "wrong_size": consumer["wrong_size"],
        "lost": count - consumer["count"],
    }


def aggregate(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the median of every metric and the min/max/IQR of throughput and latency."""
    median: dict[str, float] = {}
    spread: dict[str, list[float]] = {}
    for name in METRICS:
        values = [t[name] for t in trials if t.get(name) == t.get(name)]  # drop NaN
        if not values:
            continue
        median[name] = statistics.median(values)
        if name in ("objects_per_s", "mb_per_s", "latency_p50_us"):
            spread[name] = [
                min(values),
                max(values),
                percentile(values, 25),
                percentile(values, 75),
            ]
    return {"median": median, "spread": spread, "repeats": len(trials)}


def paired_ratio(
    mine: list[dict[str, Any]], base: list[dict[str, Any]], metric: str
) -> float | None:
    """Median over repeats of ``mine[r][metric] / base[r][metric]`` (trials paired in time)."""
    ratios = [
        a[metric] / b[metric]
        for a, b in zip(mine, base, strict=False)
        if a.get(metric) and b.get(metric) and b[metric] == b[metric] and a[metric] == a[metric]
    ]
    return statistics.median(ratios) if ratios else None
