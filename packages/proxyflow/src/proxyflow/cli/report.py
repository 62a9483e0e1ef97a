"""The record of a demo run and its rendering as a rich summary table."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.table import Table

__all__ = ["DemoReport", "format_bytes", "render_report"]

_MIB = 1024 * 1024


def format_bytes(n: float) -> str:
    """Format a byte count with a binary unit.

    Examples:
        >>> format_bytes(1536), format_bytes(3 * 1024**2), format_bytes(100)
        ('1.5 KiB', '3.0 MiB', '100 B')
    """
    if n < 1024:
        return f"{n:.0f} B"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if n < 1024 or unit == "GiB":
            break
    return f"{n:.1f} {unit}"


@dataclass
class DemoReport:
    """What one run of ``proxyflow demo`` measured.

    Attributes:
        broker: Description of the event broker.
        store: Description of the store.
        count: Objects the generator was asked to stream.
        size: Bytes per object.
        workers: Worker processes.
        batch_size: Objects per event.
        engine: Where the tasks ran (a process pool, a Dask cluster).
        bytes_produced: Bytes of all chunks the generator put in the store.
        event_bytes: Bytes of the event messages the dispatcher received.
        proxy_bytes: Bytes of the pickled proxies the dispatcher handed to workers.
        dispatched: Proxies the dispatcher handed to workers.
        resolved_by_dispatcher: Proxies found resolved in the dispatcher (must be 0).
        worker_bytes: Bytes the workers read from the store.
        wall_time: Seconds from the start of the stream to the last result.
        correct: Results whose checksum matched the expected chunk.
        wrong: Indexes of chunks whose result was wrong or missing.
    """

    broker: str
    store: str
    count: int
    size: int
    workers: int
    batch_size: int
    engine: str = "process pool"
    bytes_produced: int = 0
    event_bytes: int = 0
    proxy_bytes: int = 0
    dispatched: int = 0
    resolved_by_dispatcher: int = 0
    worker_bytes: int = 0
    wall_time: float = 0.0
    correct: int = 0
    wrong: list[int] = field(default_factory=list)

    @property
    def dispatcher_bytes(self) -> int:
        """Bytes that went through the dispatcher: events in, pickled proxies out."""
        return self.event_bytes + self.proxy_bytes

    @property
    def dispatcher_bytes_per_object(self) -> float:
        """Dispatcher bytes divided by the number of objects dispatched."""
        return self.dispatcher_bytes / max(self.dispatched, 1)

    @property
    def ok(self) -> bool:
        """Whether every object arrived, was computed right and bypassed the dispatcher."""
        return not self.wrong and self.correct == self.count and self.resolved_by_dispatcher == 0


def render_report(report: DemoReport) -> Table:
    """Return the summary table of a run.

    Args:
        report: The measurements of the run.
    """
    wall = max(report.wall_time, 1e-9)
    table = Table(title="proxyflow demo", show_header=True, header_style="bold")
    table.add_column("measure")
    table.add_column("value")
    rows = [
        ("broker", report.broker),
        ("store", report.store),
        ("objects", f"{report.count} x {format_bytes(report.size)}"),
        ("engine", report.engine),
        ("workers / batch size", f"{report.workers} / {report.batch_size}"),
        ("bytes produced", format_bytes(report.bytes_produced)),
        (
            "bytes through dispatcher",
            f"{format_bytes(report.dispatcher_bytes)} "
            f"({report.dispatcher_bytes_per_object:.0f} B/object)",
        ),
        ("  events in / proxies out", f"{report.event_bytes} B / {report.proxy_bytes} B"),
        ("proxies resolved by dispatcher", str(report.resolved_by_dispatcher)),
        ("bytes read by workers", format_bytes(report.worker_bytes)),
        ("wall time", f"{report.wall_time:.3f} s"),
        (
            "throughput",
            f"{report.bytes_produced / _MIB / wall:.1f} MiB/s, "
            f"{report.correct / wall:.1f} objects/s",
        ),
    ]
    for name, value in rows:
        table.add_row(name, value)
    verdict = f"{report.correct}/{report.count} correct"
    if report.ok:
        table.add_row("results", f"[green]{verdict}[/green]")
    else:
        shown = ", ".join(str(i) for i in report.wrong[:8])
        more = ", ..." if len(report.wrong) > 8 else ""
        detail = f" (wrong or missing: {shown}{more})" if report.wrong else ""
        table.add_row("results", f"[red]{verdict}{detail}[/red]")
    return table
