"""Command line of the benchmark: ``python -m proxyflow_bench`` / ``proxyflow bench``."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import sys
from typing import Any

from proxyflow_bench.spec import (
    CONFIGS,
    DEFAULT_CONFIGS,
    DEFAULT_SIZES,
    KINDS,
    SYSTEMS,
    format_size,
    parse_sizes,
)

__all__ = ["build_parser", "main"]

QUICK_SIZES = (1024, 1024 * 1024)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the benchmark."""
    parser = argparse.ArgumentParser(
        prog="proxyflow bench",
        description=(
            "Measure proxyflow against raw brokers, hand-written claim-check and "
            "(when installed) ProxyStore: objects/s, MB/s, latency, CPU and bytes per event."
        ),
    )
    parser.add_argument(
        "--quick", action="store_true",
        help="CI smoke run: tiny counts, sizes 1KiB,1MiB, one repeat (seconds, not minutes)",
    )  # fmt: skip
    parser.add_argument("--sizes", help="comma-separated sizes (default 1KiB,64KiB,1MiB,16MiB)")
    parser.add_argument("--repeat", type=int, help="repeats per case (default 3; --quick: 1)")
    parser.add_argument(
        "--cases", "--configs", dest="cases",
        help=f"comma-separated configurations (default all: {','.join(DEFAULT_CONFIGS)})",
    )  # fmt: skip
    parser.add_argument(
        "--systems", default=None,
        help="comma-separated systems: raw,proxyflow,proxystore (default: all available)",
    )  # fmt: skip
    parser.add_argument(
        "--kinds", default=",".join(KINDS),
        help="payload kinds (bytes,numpy; numpy only from 1 MiB up when several sizes run)",
    )  # fmt: skip
    parser.add_argument("--json", metavar="PATH", help="write every result as JSON")
    parser.add_argument(
        "--plot", metavar="PATH", help="write a PNG of every case's throughput ratio to raw"
    )
    parser.add_argument(
        "--markdown", metavar="PATH", help="write the tables as Markdown (for docs/benchmarks.md)"
    )
    parser.add_argument(
        "--target-seconds", type=float, default=None,
        help="aimed duration of each throughput phase (default 0.3 s; --quick 0.02 s)",
    )  # fmt: skip
    parser.add_argument("--count", type=int, default=0, help="fixed object count (0: adaptive)")
    parser.add_argument("--min-count", type=int, default=None, help="fewest objects (default 20)")
    parser.add_argument("--max-count", type=int, default=2000, help="most objects per phase")
    parser.add_argument(
        "--dispatcher", choices=("on", "off"), default="on",
        help="run the producer -> dispatcher -> workers scenario (default on)",
    )  # fmt: skip
    parser.add_argument("--workers", type=int, default=2, help="workers of the dispatcher scenario")
    parser.add_argument(
        "--profile", metavar="DIR",
        help="write cProfile stats of the measured producer/consumer loops into DIR",
    )  # fmt: skip
    parser.add_argument(
        "--profile-filter",
        default="",
        help="profile only rows whose 'config-kind-size-system' label contains one of these "
        "comma-separated strings (e.g. 'zmq-file-bytes-1024-proxyflow')",
    )
    parser.add_argument("--no-memcpy", action="store_true", help="skip the in-process memcpy bound")
    parser.add_argument(
        "--prefetch", type=int, default=0, metavar="K",
        help="proxyflow consumers resolve with StreamConsumer(prefetch=K) and "
        "next_object_with_metadata (default 0: next_with_metadata + extract)",
    )  # fmt: skip
    return parser


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _systems(requested: str | None, console: Any) -> list[str]:
    from proxyflow_bench.ps import proxystore_available

    systems = _split(requested) or list(SYSTEMS)
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise SystemExit(f"unknown systems {unknown}; choose from {list(SYSTEMS)}")
    if "proxystore" in systems and not proxystore_available():
        if requested:
            raise SystemExit(
                "proxystore is not importable: `pip install proxystore` in the bench "
                "environment, or set PROXYFLOW_BENCH_PROXYSTORE_PATH to a --target folder"
            )
        console.print("[yellow]proxystore not installed: its column is left empty[/yellow]")
        systems.remove("proxystore")
    return systems


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and return the process exit code.

    Args:
        argv: Command-line arguments without the program name (default ``sys.argv[1:]``).

    Returns:
        ``0`` when every case ran, ``1`` when some case failed (its error is in
        the JSON), ``2`` on bad arguments.
    """
    from rich.console import Console

    from proxyflow_bench.dispatcher import run_dispatcher
    from proxyflow_bench.environment import BenchResources, machine_info
    from proxyflow_bench.plot import run_title, write_plot
    from proxyflow_bench.ps import proxystore_version
    from proxyflow_bench.report import (
        add_ratios,
        check_targets,
        print_table,
        write_json,
        write_markdown,
    )
    from proxyflow_bench.suite import SuiteOptions, memcpy_rows, run_suite

    args = build_parser().parse_args(argv)
    # A pipe or CI log gets a wide table instead of rich's 80-column default.
    console = Console() if sys.stdout.isatty() else Console(width=220)
    try:
        sizes = parse_sizes(args.sizes) if args.sizes else (
            QUICK_SIZES if args.quick else DEFAULT_SIZES
        )  # fmt: skip
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        return 2
    configs = _split(args.cases) or list(DEFAULT_CONFIGS)
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        console.print(f"[red]unknown cases {unknown}; choose from {sorted(CONFIGS)}[/red]")
        return 2
    kinds = _split(args.kinds)
    if any(k not in KINDS for k in kinds):
        console.print(f"[red]unknown kinds {kinds}; choose from {list(KINDS)}[/red]")
        return 2
    systems = _systems(args.systems, console)
    repeats = args.repeat if args.repeat is not None else (1 if args.quick else 3)
    options = SuiteOptions(
        configs=configs,
        sizes=sizes,
        kinds=kinds,
        systems=systems,
        repeats=max(1, repeats),
        target_s=args.target_seconds or (0.02 if args.quick else 0.3),
        min_count=args.min_count or (5 if args.quick else 20),
        max_count=args.max_count,
        fixed_count=args.count,
        latency_count=5 if args.quick else 0,
        profile_dir=args.profile or "",
        profile_filter=tuple(_split(args.profile_filter)),
        prefetch=max(0, args.prefetch),
    )
    need_redis = any(CONFIGS[c].broker in ("redis", "redisq") or CONFIGS[c].store == "redis"
                     for c in configs)  # fmt: skip
    started = dt.datetime.now(dt.timezone.utc)
    load_before = list(os.getloadavg())
    res = BenchResources(need_redis=need_redis)
    try:
        info = machine_info(res.redis_url)
        console.print(
            f"[bold]proxyflow bench[/bold]: {len(configs)} configs x {len(sizes)} sizes x "
            f"{repeats} repeats, systems {systems}; {info['nproc']} CPUs ({info['cpu_model']}), "
            f"load {load_before[0]:.2f}; redis: {res.redis_note or 'not needed'}; "
            f"files in {res.file_root}"
        )
        rows = run_suite(options, res, progress=console.print)
        if not args.no_memcpy:
            rows.extend(memcpy_rows(options))
        add_ratios(rows)
        dispatcher: list[dict[str, Any]] = []
        if args.dispatcher == "on":
            dispatcher = run_dispatcher(options, res, workers=args.workers, progress=console.print)
        targets = check_targets(rows, dispatcher)
        info["loadavg_before"] = load_before
        info["loadavg_after"] = list(os.getloadavg())
        info["proxystore"] = proxystore_version()
        info["redis"] = res.redis_note
        info["file_root"] = os.path.dirname(res.file_root)
    finally:
        res.close()
    print_table(rows, targets, dispatcher, console)
    console.print(
        f"load average before {load_before[0]:.2f}, after {info['loadavg_after'][0]:.2f} "
        f"(1-minute); MB = 10^6 bytes; latency = send to resolved, one object in flight"
    )
    command = "proxyflow bench " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    document = {
        "command": command.strip(),
        "started": started.isoformat(),
        "machine": info,
        "options": {
            "sizes": list(sizes),
            "sizes_human": [format_size(s) for s in sizes],
            "configs": configs,
            "kinds": kinds,
            "systems": systems,
            "repeats": options.repeats,
            "target_s": options.target_s,
            "min_count": options.min_count,
            "max_count": options.max_count,
            "prefetch": options.prefetch,
        },
        "results": rows,
        "dispatcher": dispatcher,
        "targets": targets,
    }
    if args.json:
        write_json(args.json, document)
        console.print(f"JSON written to {args.json}")
    if args.markdown:
        write_markdown(args.markdown, document)
        console.print(f"Markdown tables written to {args.markdown}")
    if args.plot:
        write_plot(args.plot, rows, title=run_title(info))
        console.print(f"plot written to {args.plot}")
    failed = [r for r in rows if r["errors"]] + [d for d in dispatcher if d.get("errors")]
    if failed:
        console.print(f"[red]{len(failed)} case(s) had errors; see the JSON[/red]")
        return 1
    return 0
