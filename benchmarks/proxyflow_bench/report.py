"""Ratios, target checks and the text outputs: a terminal table, JSON and Markdown."""

from __future__ import annotations

import json
import statistics
from typing import Any

from proxyflow_bench.spec import KiB, MiB, format_size

__all__ = ["TARGETS", "add_ratios", "check_targets", "print_table", "write_json"]

TARGETS: tuple[dict[str, Any], ...] = (
    {"case": "1 KiB zmq, inline", "config": "zmq-inline", "kind": "bytes", "size": KiB,
     "metric": "throughput", "target": 0.6, "proxystore_reported": 0.19},
    {"case": "1 KiB zmq + file store", "config": "zmq-file", "kind": "bytes", "size": KiB,
     "metric": "throughput", "target": 0.6, "proxystore_reported": 0.20},
    {"case": "1 KiB redis pub/sub + redis store", "config": "redis-redis", "kind": "bytes",
     "size": KiB, "metric": "throughput", "target": 1.0, "proxystore_reported": 0.68},
    {"case": "64 KiB zmq + file", "config": "zmq-file", "kind": "bytes", "size": 64 * KiB,
     "metric": "throughput", "target": 0.7, "proxystore_reported": 0.30},
    {"case": "16 MiB zmq + file (/dev/shm)", "config": "zmq-file", "kind": "bytes",
     "size": 16 * MiB, "metric": "throughput", "target": 0.85, "proxystore_reported": 0.31},
    {"case": "16 MiB numpy + file", "config": "zmq-file", "kind": "numpy", "size": 16 * MiB,
     "metric": "throughput", "target": 0.85, "proxystore_reported": 0.25},
    {"case": "16 MiB redis pub/sub + redis store", "config": "redis-redis", "kind": "bytes",
     "size": 16 * MiB, "metric": "throughput", "target": 1.3, "proxystore_reported": 1.05},
    {"case": "p50 latency, 1 KiB zmq + file", "config": "zmq-file", "kind": "bytes", "size": KiB,
     "metric": "latency", "target": 1.3, "proxystore_reported": 2.2},
)  # fmt: skip
"""The issue's target rows: throughput ratios must reach ``target``, latency ratios stay below."""


def _by_repeat(trials: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {t.get("repeat", i): t for i, t in enumerate(trials)}


def _paired(mine: list[dict[str, Any]], base: list[dict[str, Any]], metric: str) -> float | None:
    a, b = _by_repeat(mine), _by_repeat(base)
    ratios = []
    for repeat, trial in a.items():
        other = b.get(repeat)
        if other is None:
            continue
        x, y = trial.get(metric), other.get(metric)
        if x and y and x == x and y == y:
            ratios.append(x / y)
    return statistics.median(ratios) if ratios else None


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Add ``ratio`` entries to every non-raw row (to raw of the same config/kind/size).

    ``throughput`` is objects/s over raw objects/s and ``latency_p50`` the
    unloaded p50 latency over raw's, each the median of ratios of trials that
    ran in the same repeat. proxyflow rows also get ``vs_proxystore``
    (proxyflow objects/s over ProxyStore's) and ``proxystore_throughput``
    (ProxyStore's own ratio to raw), the second column of ratios.
    Redis-store rows also get ``vs_raw_pubsub_inline``: the ratio to raw
    Redis pub/sub of the payload itself (the ``redis-inline`` raw row).
    """
    index = {(r["config"], r["kind"], r["size"], r["system"]): r for r in rows}
    for row in rows:
        if row["system"] in ("raw", "memcpy"):
            continue
        key = (row["config"], row["kind"], row["size"])
        raw = index.get((*key, "raw"))
        ratio: dict[str, Any] = {}
        if raw and raw["trials"] and row["trials"]:
            ratio["throughput"] = _paired(row["trials"], raw["trials"], "objects_per_s")
            ratio["latency_p50"] = _paired(row["trials"], raw["trials"], "latency_p50_us")
            ratio["latency_p99"] = _paired(row["trials"], raw["trials"], "latency_p99_us")
        inline = index.get(("redis-inline", row["kind"], row["size"], "raw"))
        if row["store"] == "redis" and inline and inline["trials"] and row["trials"]:
            ratio["vs_raw_pubsub_inline"] = _paired(
                row["trials"], inline["trials"], "objects_per_s"
            )
        if row["system"] == "proxyflow":
            ps = index.get((*key, "proxystore"))
            if ps and ps["trials"] and row["trials"]:
                ratio["vs_proxystore"] = _paired(row["trials"], ps["trials"], "objects_per_s")
                ps_ratio = ps.get("ratio", {}).get("throughput")
                if ps_ratio is None and raw and raw["trials"]:
                    ps_ratio = _paired(ps["trials"], raw["trials"], "objects_per_s")
                ratio["proxystore_throughput"] = ps_ratio
        row["ratio"] = ratio


def check_targets(
    rows: list[dict[str, Any]], dispatcher: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Return the issue's target rows with the measured ratio and whether each is met."""
    index = {(r["config"], r["kind"], r["size"], r["system"]): r for r in rows}
    out = []
    for target in TARGETS:
        entry = dict(target)
        row = index.get((target["config"], target["kind"], target["size"], "proxyflow"))
        ps = index.get((target["config"], target["kind"], target["size"], "proxystore"))
        key = "throughput" if target["metric"] == "throughput" else "latency_p50"
        measured = (row or {}).get("ratio", {}).get(key)
        ps_measured = None
        if ps:
            ps_measured = ps.get("ratio", {}).get(key)
        entry["measured"] = measured
        entry["proxystore_measured"] = ps_measured
        if measured is None:
            entry["met"] = None
        elif target["metric"] == "throughput":
            entry["met"] = measured >= target["target"]
        else:
            entry["met"] = measured <= target["target"]
        out.append(entry)
    for disp in dispatcher:
        if disp["system"] != "proxyflow":
            continue
        nbytes = disp.get("median", {}).get("bytes_per_object")
        out.append(
            {
                "case": f"pickled proxy through the dispatcher ({format_size(disp['size'])})",
                "metric": "bytes",
                "target": 200,
                "proxystore_reported": 728,
                "measured": nbytes,
                "proxystore_measured": _dispatcher_ps_bytes(dispatcher, disp["size"]),
                "met": None if nbytes is None else nbytes <= 200,
            }
        )
    return out


def _dispatcher_ps_bytes(dispatcher: list[dict[str, Any]], size: int) -> float | None:
    for disp in dispatcher:
        if disp["system"] == "proxystore" and disp["size"] == size:
            value = disp.get("median", {}).get("bytes_per_object")
            return float(value) if value is not None else None
    return None


def _fmt(value: Any, digits: int = 0, suffix: str = "") -> str:
    if value is None or value != value:
        return "-"
    if isinstance(value, float) and digits == 0 and abs(value) < 10:
        return f"{value:.1f}{suffix}"
    return f"{value:,.{digits}f}{suffix}"


def _fmt_us(value: Any) -> str:
    if value is None or value != value:
        return "-"
    if value >= 10_000:
        return f"{value / 1000:,.1f} ms"
    return f"{value:,.0f} us"


def _ratio(value: Any, *, latency: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}x" if latency else f"{value:.2f}"


def _show(value: Any, metric: str) -> str:
    if value is None:
        return "-"
    if metric == "bytes":
        return f"{value:.0f} B"
    if metric == "latency":
        return f"{value:.2f}x"
    return f"{value:.2f}"


def print_table(
    rows: list[dict[str, Any]],
    targets: list[dict[str, Any]],
    dispatcher: list[dict[str, Any]],
    console: Any = None,
) -> None:
    """Print the results, the dispatcher scenario and the target check with ``rich``."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(
        title="proxyflow benchmark (medians; spread = min-max objects/s)", show_lines=False
    )
    for name, justify in (
        ("config", "left"), ("kind", "left"), ("size", "right"), ("system", "left"),
        ("objects/s", "right"), ("spread", "right"), ("MB/s", "right"),
        ("p50 lat", "right"), ("p99 lat", "right"), ("CPU prod/obj", "right"),
        ("CPU cons/obj", "right"), ("B/event", "right"), ("thr ratio", "right"),
        ("p50 ratio", "right"), ("ProxyStore thr ratio", "right"),
    ):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    order = {"memcpy": 0, "raw": 1, "proxyflow": 2, "proxystore": 3}
    previous = None
    for row in sorted(
        rows,
        key=lambda r: (r["config"], r["kind"] != "bytes", r["size"], order.get(r["system"], 9)),
    ):
        group = (row["config"], row["kind"], row["size"])
        if previous is not None and group[0] != previous[0]:
            table.add_section()
        previous = group
        med = row.get("median", {})
        spread = row.get("spread", {}).get("objects_per_s")
        ratio = row.get("ratio", {})
        style = "bold" if row["system"] == "proxyflow" else None
        if row["errors"] and not row["trials"]:
            cells = ["FAILED"] + ["-"] * 10
        else:
            cells = [
                _fmt(med.get("objects_per_s")),
                f"{spread[0]:,.0f}-{spread[1]:,.0f}" if spread else "-",
                _fmt(med.get("mb_per_s"), 1),
                _fmt_us(med.get("latency_p50_us")),
                _fmt_us(med.get("latency_p99_us")),
                _fmt_us(med.get("cpu_producer_us")),
                _fmt_us(med.get("cpu_consumer_us")),
                _fmt(med.get("bytes_per_event")),
                _ratio(ratio.get("throughput")),
                _ratio(ratio.get("latency_p50"), latency=True),
                _ratio(ratio.get("proxystore_throughput")),
            ]
        table.add_row(
            row["config"], row["kind"], format_size(row["size"]), row["system"], *cells, style=style
        )
    console.print(table)

    if dispatcher:
        dtable = Table(title="dispatcher scenario: producer -> dispatcher -> workers")
        for name in ("system", "size", "workers", "objects/s", "MB/s", "B/object via dispatcher",
                     "dispatcher CPU/obj"):  # fmt: skip
            dtable.add_column(name, justify="left" if name == "system" else "right")
        for disp in dispatcher:
            med = disp.get("median", {})
            dtable.add_row(
                disp["system"],
                format_size(disp["size"]),
                str(disp["workers"]),
                _fmt(med.get("objects_per_s")),
                _fmt(med.get("mb_per_s"), 1),
                _fmt(med.get("bytes_per_object")),
                _fmt_us(med.get("cpu_dispatcher_us")),
            )
        console.print(dtable)

    if targets:
        ttable = Table(title="targets (ratio to the raw baseline of the same configuration)")
        for name in ("case", "ProxyStore (issue)", "ProxyStore (here)", "proxyflow", "target",
                     "met"):  # fmt: skip
            ttable.add_column(name, justify="left" if name == "case" else "right")
        for entry in targets:
            metric = entry["metric"]
            if metric == "bytes":
                target = f"<= {entry['target']} B"
            elif metric == "latency":
                target = f"<= {entry['target']}x"
            else:
                target = f">= {entry['target']}"
            met = entry["met"]
            ttable.add_row(
                entry["case"],
                _show(entry["proxystore_reported"], metric),
                _show(entry["proxystore_measured"], metric),
                _show(entry["measured"], metric),
                target,
                "-" if met is None else ("[green]yes[/green]" if met else "[red]no[/red]"),
            )
        console.print(ttable)


def write_json(path: str, document: dict[str, Any]) -> None:
    """Write the run as JSON (per-trial results included)."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1, default=str)
        handle.write("\n")


def markdown_tables(document: dict[str, Any]) -> str:
    """Render the results, dispatcher and target tables of a run as Markdown."""
    rows = document["results"]
    order = {"memcpy": 0, "raw": 1, "proxyflow": 2, "proxystore": 3}
    lines = [
        "| config | kind | size | system | objects/s | spread (min-max) | MB/s | p50 lat | "
        "p99 lat | CPU prod/obj | CPU cons/obj | B/event | thr ratio | p50 ratio | "
        "ProxyStore thr ratio |",
        "|---|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in sorted(
        rows,
        key=lambda r: (r["config"], r["kind"] != "bytes", r["size"], order.get(r["system"], 9)),
    ):
        med = row.get("median", {})
        spread = row.get("spread", {}).get("objects_per_s")
        ratio = row.get("ratio", {})
        bold = row["system"] == "proxyflow"
        thr = _ratio(ratio.get("throughput"))
        cells = [
            row["config"],
            row["kind"],
            format_size(row["size"]),
            row["system"],
            _fmt(med.get("objects_per_s")),
            f"{spread[0]:,.0f}-{spread[1]:,.0f}" if spread else "-",
            _fmt(med.get("mb_per_s"), 1),
            _fmt_us(med.get("latency_p50_us")),
            _fmt_us(med.get("latency_p99_us")),
            _fmt_us(med.get("cpu_producer_us")),
            _fmt_us(med.get("cpu_consumer_us")),
            _fmt(med.get("bytes_per_event")),
            f"**{thr}**" if bold and thr != "-" else thr,
            _ratio(ratio.get("latency_p50"), latency=True),
            _ratio(ratio.get("proxystore_throughput")),
        ]
        if row["errors"] and not row["trials"]:
            cells[4:] = ["FAILED"] + ["-"] * 10
        lines.append("| " + " | ".join(cells) + " |")
    out = ["### All cases", "", *lines, ""]
    if document.get("dispatcher"):
        out += [
            "### Dispatcher scenario (producer -> dispatcher -> 2 workers, ZeroMQ + file store)",
            "",
            "| system | size | objects/s | MB/s | bytes/object via dispatcher | "
            "dispatcher CPU/object |",
            "|---|--:|--:|--:|--:|--:|",
        ]
        for disp in document["dispatcher"]:
            med = disp.get("median", {})
            out.append(
                f"| {disp['system']} | {format_size(disp['size'])} | "
                f"{_fmt(med.get('objects_per_s'))} | {_fmt(med.get('mb_per_s'), 1)} | "
                f"{_fmt(med.get('bytes_per_object'))} | {_fmt_us(med.get('cpu_dispatcher_us'))} |"
            )
        out.append("")
    if document.get("targets"):
        out += [
            "### Targets",
            "",
            "| case | ProxyStore 1.1.0 (issue) | ProxyStore (this run) | proxyflow | target "
            "| met |",
            "|---|--:|--:|--:|--:|---|",
        ]
        for entry in document["targets"]:
            metric = entry["metric"]
            sign = ">=" if metric == "throughput" else "<="
            unit = {"bytes": " B", "latency": "x"}.get(metric, "")
            met = entry["met"]
            out.append(
                f"| {entry['case']} | {_show(entry['proxystore_reported'], metric)} | "
                f"{_show(entry['proxystore_measured'], metric)} | "
                f"{_show(entry['measured'], metric)} | {sign} {entry['target']}{unit} | "
                f"{'-' if met is None else ('yes' if met else '**no**')} |"
            )
        out.append("")
    return "\n".join(out)


def write_markdown(path: str, document: dict[str, Any]) -> None:
    """Write `markdown_tables` of a run to ``path``."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(markdown_tables(document))
