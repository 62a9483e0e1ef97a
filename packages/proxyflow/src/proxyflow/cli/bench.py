"""Locate and run the benchmark suite that lives in the repository's ``benchmarks/`` folder.

The suite is not part of any distribution (it measures them all, against raw
brokers and optionally ProxyStore). ``proxyflow bench`` runs it when it is
importable as ``proxyflow_bench``, or when a ``benchmarks/proxyflow_bench``
folder is found above the current directory or above this package (an
editable install from a clone).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from proxyflow.cli.exceptions import InvalidOptionError

__all__ = ["find_benchmark_main"]

_SUITE = "proxyflow_bench"


def _candidate_roots() -> Iterator[Path]:
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        yield start
        yield from start.parents


def find_benchmark_main() -> Callable[[list[str] | None], int]:
    """Return the suite's ``main(argv) -> exit code``.

    Raises:
        InvalidOptionError: the suite is neither importable nor in a clone above
            the current directory.
    """
    try:
        module = importlib.import_module(f"{_SUITE}.cli")
    except ImportError:
        for root in _candidate_roots():
            folder = root / "benchmarks"
            if (folder / _SUITE / "cli.py").is_file():
                # Spawned benchmark processes inherit sys.path, so they find it too.
                sys.path.insert(0, str(folder))
                module = importlib.import_module(f"{_SUITE}.cli")
                break
        else:
            raise InvalidOptionError(
                "the benchmark suite lives in the proxyflow repository: run "
                "'hatch run bench:run' from a clone, or 'proxyflow bench' inside it"
            ) from None
    run: Callable[[list[str] | None], int] = module.main
    return run
