"""The benchmark picture: each case's throughput as a ratio to raw, grouped by broker.

One panel per object size; in each panel one row per configuration (broker +
store), rows grouped by broker; in each row one bar per system (proxyflow, and
ProxyStore when the run measured it) and payload kind. A bar of 1.0 means as
fast as the hand-written baseline on the same broker and store.

Regenerate the picture from a saved run without measuring again::

    python -m proxyflow_bench.plot benchmarks/results/latest.json docs/img/benchmarks.png
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from proxyflow_bench.spec import format_size

__all__ = [
    "BROKER_LABELS",
    "STORE_LABELS",
    "Bar",
    "Case",
    "bars_from_rows",
    "cases_of",
    "main",
    "run_title",
    "write_plot",
]

BROKER_LABELS = {
    "zmq": "ZeroMQ",
    "redis": "Redis pub/sub",
    "redisq": "Redis list",
    "queue": "multiprocessing queue",
}
"""Broker names as the picture shows them, in the order of the groups."""

STORE_LABELS = {"inline": "inline", "file": "file store", "redis": "Redis store"}
"""Store names as the picture shows them, in the order within a broker group."""

_SYSTEMS = ("proxyflow", "proxystore")
_SYSTEM_LABELS = {"proxyflow": "proxyflow", "proxystore": "ProxyStore"}
_COLOURS = {"proxyflow": "#1d4ed8", "proxystore": "#d97706"}
_TINTS = {"proxyflow": "#bfdbfe", "proxystore": "#fde68a"}
_KINDS = ("bytes", "numpy")


@dataclass(frozen=True)
class Case:
    """One configuration: a row of every panel.

    Attributes:
        config: The configuration's name (``"zmq-file"``).
        broker: The broker's short name (``"zmq"``).
        store: The store's short name (``"file"``).
    """

    config: str
    broker: str
    store: str

    @property
    def label(self) -> str:
        """The store as the row label shows it (the broker labels the group)."""
        return STORE_LABELS.get(self.store, self.store)

    @property
    def broker_label(self) -> str:
        """The broker as the group label shows it."""
        return BROKER_LABELS.get(self.broker, self.broker)


@dataclass(frozen=True)
class Bar:
    """One measured ratio: a system on a case, kind and size.

    Attributes:
        case: The configuration.
        kind: ``"bytes"`` or ``"numpy"``.
        size: Object size in bytes.
        system: ``"proxyflow"`` or ``"proxystore"``.
        ratio: Objects/s over raw objects/s, or ``None`` when the case failed.
    """

    case: Case
    kind: str
    size: int
    system: str
    ratio: float | None


def bars_from_rows(rows: Iterable[dict[str, Any]]) -> list[Bar]:
    """Return the throughput ratio of every proxyflow and ProxyStore row.

    Rows of other systems (``raw``, ``memcpy``) are left out: the ratio is
    measured against ``raw``.
    """
    bars = []
    for row in rows:
        if row.get("system") not in _SYSTEMS:
            continue
        value = (row.get("ratio") or {}).get("throughput")
        ratio = float(value) if isinstance(value, int | float) else math.nan
        bars.append(
            Bar(
                case=Case(row["config"], str(row.get("broker")), str(row.get("store"))),
                kind=row["kind"],
                size=int(row["size"]),
                system=row["system"],
                ratio=ratio if math.isfinite(ratio) and ratio > 0 else None,
            )
        )
    return bars


def _rank(order: Sequence[str], name: str) -> int:
    return order.index(name) if name in order else len(order)


def cases_of(bars: Iterable[Bar]) -> list[Case]:
    """Return the distinct cases of ``bars``, grouped by broker in the picture's order."""
    brokers, stores = list(BROKER_LABELS), list(STORE_LABELS)
    return sorted(
        {bar.case for bar in bars},
        key=lambda c: (_rank(brokers, c.broker), c.broker, _rank(stores, c.store), c.config),
    )


@dataclass(frozen=True)
class _Group:
    """The rows of one broker in a panel (y grows downwards, one unit per row)."""

    label: str
    header_y: float
    first_y: float
    last_y: float


@dataclass(frozen=True)
class _Layout:
    """Where each case's row and each broker's heading go."""

    y: dict[Case, float]
    groups: list[_Group]
    height: float


def _layout(cases: Sequence[Case], header: float = 0.7) -> _Layout:
    y: dict[Case, float] = {}
    groups: list[_Group] = []
    position = 0.0
    for index, case in enumerate(cases):
        if index == 0 or case.broker != cases[index - 1].broker:
            position += header
            groups.append(
                _Group(case.broker_label, position - 0.5 - header / 2, position, position)
            )
        y[case] = position
        last = groups[-1]
        groups[-1] = _Group(last.label, last.header_y, last.first_y, position)
        position += 1.0
    return _Layout(y, groups, position)


def run_title(machine: dict[str, Any]) -> str:
    """Describe the machine of a run in one line (CPUs, Python, load before and after)."""
    before = (machine.get("loadavg_before") or [float("nan")])[0]
    after = (machine.get("loadavg_after") or [float("nan")])[0]
    return (
        f"{machine.get('nproc', '?')} x {machine.get('cpu_model', '?')}, "
        f"Python {machine.get('python', '?')}, load {before:.2f}->{after:.2f}"
    )


class _Slot(NamedTuple):
    """One bar position within a row: a system and a payload kind."""

    system: str
    kind: str


class _Key(NamedTuple):
    """What identifies a bar."""

    case: Case
    kind: str
    size: int
    system: str


def _draw_panel(
    ax: Any,
    size: int,
    bars: dict[_Key, Bar],
    slots: Sequence[_Slot],
    layout: _Layout,
    x_max: float,
) -> None:
    """Draw one object size: a bar per case and slot, the groups' bands, the 1.0 line."""
    height = 0.84 / max(len(slots), 1)
    for case, row_y in layout.y.items():
        for number, (system, kind) in enumerate(slots):
            bar = bars.get(_Key(case, kind, size, system))
            if bar is None:
                continue
            y = row_y - 0.42 + height * (number + 0.5)
            if bar.ratio is None:
                ax.text(0.03, y, "failed", va="center", fontsize=8, color="#b91c1c")
                continue
            numpy = kind == "numpy"
            ax.barh(
                y,
                bar.ratio,
                height=height * 0.9,
                color=_TINTS[system] if numpy else _COLOURS[system],
                edgecolor=_COLOURS[system],
                hatch="////" if numpy else None,
                linewidth=0.8,
            )
            mine = system == "proxyflow"
            ax.text(
                bar.ratio + x_max * 0.012,
                y,
                f"{bar.ratio:.2f}",
                va="center",
                fontsize=9,
                color="#111827" if mine else "#92400e",
                fontweight="bold" if mine else "normal",
            )
    for number, group in enumerate(layout.groups):
        if number % 2 == 0:
            ax.axhspan(group.header_y - 0.4, group.last_y + 0.5, color="#f1f5f9", zorder=0)
    ax.axvline(1.0, color="#111827", linestyle="--", linewidth=1.3, zorder=3)
    ax.set_title(f"{format_size(size)} objects", fontsize=13, fontweight="bold")
    ax.set_xlim(0, x_max)
    top = layout.groups[0].header_y - 0.45 if layout.groups else -0.5
    ax.set_ylim(layout.height - 0.4, top)
    ax.set_yticks(list(layout.y.values()))
    ax.set_yticklabels([case.label for case in layout.y], fontsize=11)
    ax.tick_params(axis="y", length=0)
    ax.grid(True, axis="x", alpha=0.35)
    ax.set_axisbelow(True)
    for spine in ("top", "right", "left"):
        ax.spines[spine].set_visible(False)


def _label_groups(ax: Any, layout: _Layout, indent: float) -> None:
    """Write each broker's name above its rows, from ``indent`` inches left of the panel."""
    for group in layout.groups:
        ax.annotate(
            group.label,
            xy=(0, group.header_y),
            xycoords=("axes fraction", "data"),
            xytext=(-indent * 72, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=11.5,
            fontweight="bold",
            annotation_clip=False,
        )


def _decorate(fig: Any, handles: list[Any], title: str, *, narrow: bool) -> None:
    """Add the heading, the legend, the reading hint and the machine line."""
    width, height = fig.get_figwidth(), fig.get_figheight()
    heading = "Throughput as a multiple of hand-written code on the same broker and store"
    if narrow:
        heading = heading.replace(" on the same", "\non the same")
    fig.suptitle(heading, x=0.5, y=1 - 0.2 / height, va="top", fontsize=15, fontweight="bold")
    fig.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 1 - (0.85 if narrow else 0.55) / height),
        ncol=min(len(handles), 2) if narrow else len(handles),
        frameon=False,
        fontsize=11.5,
        handlelength=1.8,
        columnspacing=1.6,
    )
    fig.text(
        0.5,
        0.32 / height,
        "Above 1.0: faster than the hand-written baseline. Below: slower.",
        ha="center",
        va="bottom",
        fontsize=10.5,
        color="#374151",
    )
    if title:
        fig.text(
            1 - 0.1 / width,
            0.08 / height,
            title,
            ha="right",
            va="bottom",
            fontsize=8,
            color="#6b7280",
        )


def write_plot(path: str, rows: list[dict[str, Any]], title: str = "") -> None:
    """Draw every case's throughput ratio to raw as bars and save a PNG at ``path``.

    One panel per object size, one row per configuration grouped by broker,
    one bar per system and payload kind (numpy arrays hatched), and a line at
    1.0, the hand-written baseline. ``title`` (the machine, say) is written
    in the bottom corner.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    found = bars_from_rows(rows)
    cases = cases_of(found)
    layout = _layout(cases)
    bars = {_Key(b.case, b.kind, b.size, b.system): b for b in found}
    sizes = sorted({bar.size for bar in found})
    systems = [s for s in _SYSTEMS if any(bar.system == s for bar in found)]
    kinds = [k for k in _KINDS if any(bar.kind == k for bar in found)]
    slots = {
        size: [
            _Slot(system, kind)
            for system in systems
            for kind in kinds
            if any(_Key(case, kind, size, system) in bars for case in cases)
        ]
        for size in sizes
    }
    ratios = [bar.ratio for bar in found if bar.ratio is not None]
    x_max = max(1.5, max(ratios, default=1.0) * 1.15)

    # Sizes in inches: a panel row is as tall as its rows need (more bars, taller rows).
    ncols = 2 if len(sizes) > 1 else 1
    nrows = max(1, math.ceil(len(sizes) / ncols))
    heights = [
        0.3
        + (0.1 + 0.13 * max((len(slots[s]) for s in sizes[r * ncols : (r + 1) * ncols]), default=1))
        * max(layout.height, 1.0)
        for r in range(nrows)
    ]
    left, right, panel_width, gap_x = 1.45, 0.3, 4.6, 0.35
    # A single column gets a two-line heading and a two-row legend.
    header = 1.25 if ncols > 1 else 1.85
    footer, gap_y = 1.0, 0.55
    width = left + ncols * panel_width + (ncols - 1) * gap_x + right
    height = header + sum(heights) + (nrows - 1) * gap_y + footer
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(width, height),
        squeeze=False,
        sharex=True,
        sharey=True,
        gridspec_kw={"height_ratios": heights},
    )
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        top=1 - header / height,
        bottom=footer / height,
        wspace=gap_x / panel_width,
        hspace=gap_y / (sum(heights) / nrows),
    )
    for number, ax in enumerate(axes.flat):
        if number >= len(sizes):
            ax.set_visible(False)
            continue
        _draw_panel(ax, sizes[number], bars, slots[sizes[number]], layout, x_max)
        if number % ncols == 0:
            _label_groups(ax, layout, left - 0.12)
        if number >= len(sizes) - ncols:
            ax.set_xlabel("throughput ÷ raw throughput, same broker and store", fontsize=10.5)
            ax.tick_params(axis="x", labelsize=10)
            ax.xaxis.set_tick_params(labelbottom=True)
    if not sizes:
        fig.text(0.5, 0.5, "no results", ha="center", va="center", fontsize=12)

    handles: list[Any] = [
        Patch(facecolor=_COLOURS[s], edgecolor=_COLOURS[s], label=_SYSTEM_LABELS[s])
        for s in systems
    ]
    if "numpy" in kinds:
        handles.append(
            Patch(facecolor="white", edgecolor="#374151", hatch="////", label="numpy array")
        )
    handles.append(Line2D([0], [0], color="#111827", linestyle="--", label="raw baseline = 1.0"))
    _decorate(fig, handles, title, narrow=ncols == 1)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Draw the picture of a saved run (``--json`` output); return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m proxyflow_bench.plot",
        description="Draw the ratio-to-raw bar chart of a saved benchmark run.",
    )
    parser.add_argument("results", help="a JSON file written by --json")
    parser.add_argument("output", help="the PNG to write")
    args = parser.parse_args(argv)
    try:
        with open(args.results, encoding="utf-8") as handle:
            document = json.load(handle)
        rows = document["results"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"cannot read results from {args.results}: {exc}", file=sys.stderr)
        return 2
    write_plot(args.output, rows, title=run_title(document.get("machine") or {}))
    print(f"plot written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
