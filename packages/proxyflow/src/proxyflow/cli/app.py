"""The ``proxyflow`` command line (built with Typer).

Example:
    ```console
    $ proxyflow demo --count 32 --size 1MiB --workers 2
    ```
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from proxyflow.cli.__about__ import __version__
from proxyflow.cli.bench import find_benchmark_main
from proxyflow.cli.demo import DemoSettings, run_demo
from proxyflow.cli.engines import EngineSpec, parse_engine
from proxyflow.cli.exceptions import BackendUnreachableError, InvalidOptionError, PipelineError
from proxyflow.cli.options import parse_broker, parse_size, parse_store
from proxyflow.cli.report import DemoReport, render_report

__all__ = ["app", "main"]

app = typer.Typer(
    name="proxyflow",
    help="proxyflow: stream objects by reference.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

T = TypeVar("T")


def _parse(parse: Callable[[str], T], value: str, option: str) -> T:
    """Parse an option value; a parse error becomes Typer's bad-parameter error (exit 2)."""
    try:
        return parse(value)
    except InvalidOptionError as exc:
        raise typer.BadParameter(str(exc), param_hint=f"'{option}'") from None


def _engine(engine: str, scheduler: str) -> EngineSpec:
    try:
        return parse_engine(engine, scheduler)
    except InvalidOptionError as exc:
        raise typer.BadParameter(str(exc), param_hint=f"'{exc.option}'") from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"proxyflow {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """proxyflow: stream objects by reference."""


def _run_with_progress(settings: DemoSettings, console: Console, show: bool) -> DemoReport:
    if not show:
        return run_demo(settings)
    columns = (
        TextColumn("{task.description:<11}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        sent = progress.add_task("dispatched", total=settings.count)
        done = progress.add_task("computed", total=settings.count)
        return run_demo(
            settings,
            on_dispatch=lambda: progress.advance(sent),
            on_result=lambda: progress.advance(done),
        )


@app.command()
def demo(
    *,
    size: Annotated[
        str,
        typer.Option(
            metavar="SIZE", help="Bytes per chunk, with an optional unit: 64KiB, 1MiB, 2MB."
        ),
    ] = "1MiB",
    count: Annotated[int, typer.Option(min=1, help="Number of chunks to stream.")] = 32,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes (pool or local Dask cluster).")
    ] = 2,
    batch_size: Annotated[int, typer.Option(min=1, help="Objects per event.")] = 1,
    broker: Annotated[
        str,
        typer.Option(
            metavar="BROKER",
            help="'zmq' (embedded, loopback), 'redis://host:port/db' (pub/sub) "
            "or 'redis-queue://host:port/db' (work queue).",
        ),
    ] = "zmq",
    store: Annotated[
        str,
        typer.Option(
            metavar="STORE",
            help="'file' (a temporary directory), 'redis://host:port/db' or a directory.",
        ),
    ] = "file",
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds to wait for any one step before failing.")
    ] = 60.0,
    engine: Annotated[
        str,
        typer.Option(
            metavar="ENGINE",
            help="'process' (a pool of worker processes) or 'dask' (a local Dask cluster, "
            "or the one at --scheduler; needs proxyflow-executors[dask]).",
        ),
    ] = "process",
    scheduler: Annotated[
        str,
        typer.Option(
            metavar="ADDRESS",
            help="With --engine dask: the address of an existing Dask scheduler "
            "(tcp://host:port) instead of a local cluster. Its workers need proxyflow.",
        ),
    ] = "",
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", "--no-progress", help="Do not show the progress bars."),
    ] = False,
) -> None:
    """Stream chunks by reference to worker processes and print a summary.

    A generator process streams chunks: it puts each one in the store and
    publishes a small event. This process, the dispatcher, reads the stream
    and hands each proxy, unresolved, to a pool of worker processes or a Dask
    cluster. Only the worker that uses a chunk pulls its bytes from the store. Exits with code 1
    if any result is wrong, 2 for bad options or an unreachable broker or store.
    """
    settings = DemoSettings(
        size=_parse(parse_size, size, "--size"),
        count=count,
        workers=workers,
        batch_size=batch_size,
        broker=_parse(parse_broker, broker, "--broker"),
        store=_parse(parse_store, store, "--store"),
        timeout=timeout,
        engine=_engine(engine, scheduler),
    )
    console = Console()
    try:
        report = _run_with_progress(settings, console, show=not quiet)
    except BackendUnreachableError as exc:
        raise typer.BadParameter(str(exc), param_hint=f"'{exc.option}'") from None
    except InvalidOptionError as exc:
        hint = f"'{exc.option}'" if exc.option else None
        raise typer.BadParameter(str(exc), param_hint=hint) from None
    except PipelineError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from None
    console.print(render_report(report))
    if not report.ok:
        raise typer.Exit(1)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def bench(ctx: typer.Context) -> None:
    """Run the benchmark suite (options are the suite's own: try --help).

    Compares proxyflow with raw pyzmq, raw redis-py and a hand-written
    claim-check for 1 KiB to 16 MiB objects, and prints ratios. Useful options:
    --quick, --json PATH, --plot PATH, --cases, --sizes, --repeat.
    """
    try:
        run = find_benchmark_main()
    except InvalidOptionError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(run(list(ctx.args)))


def main() -> None:
    """Run the ``proxyflow`` command (the console-script entry point)."""
    app()
