"""Functions the executors' tests run in workers (an importable module: spawned
processes and Dask workers find it through the ``sys.path`` the conftest sets)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from proxyflow.proxy import Proxy, extract, is_resolved


def total(x: Any) -> int:
    """Sum of an array (or any sequence of numbers), resolving a proxy."""
    return int(np.asarray(extract(x) if type(x) is Proxy else x).sum())


def describe(x: Any) -> tuple[bool, int, int]:
    """(arrived unresolved, nbytes, worker pid) for a proxy of an array."""
    unresolved = type(x) is Proxy and not is_resolved(x)
    return unresolved, int(np.asarray(extract(x)).nbytes), os.getpid()


def gated_total(gate: Any, x: Any) -> int:
    """Wait for ``gate`` (a manager Event) before touching the proxy, then sum it."""
    if not gate.wait(60):
        raise TimeoutError("the test never opened the gate")
    return total(x)


def make_bytes(n: Any) -> bytes:
    """A result of ``n`` bytes (``n`` may be a proxy of an int)."""
    return b"r" * int(n)


def fail_if_odd(x: Any) -> int:
    """Raise for odd numbers."""
    value = int(x)
    if value % 2:
        raise ValueError(f"odd: {value}")
    return value


def maxrss_bytes() -> int:
    """This process's peak resident set size in bytes (its own: not its parent's at fork).

    ``ru_maxrss`` survives ``exec``, so a spawned child would report its
    parent's size at fork; Linux's ``VmHWM`` belongs to the process image.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def dispatch_in_a_fresh_process(address: str, channel: Any, topic: str, reports: Any) -> None:
    """The dispatcher role of the memory test: read the stream, dispatch to Dask, report.

    Runs in a spawned process so that its peak RSS is its own.
    """
    try:
        from distributed import Client

        from proxyflow.executors import dispatch
        from proxyflow.shims.queue import QueueSubscriber
        from proxyflow.stream import StreamConsumer

        with (
            Client(address, timeout=60) as client,
            StreamConsumer(QueueSubscriber(channel, topics=[topic]), timeout=60) as consumer,
        ):
            results = list(dispatch(consumer, describe, client, timeout=120))
            outcomes = [r.get() for r in results]
            unresolved_here = all(not is_resolved(r.item) for r in results)
        reports.put(("done", (outcomes, maxrss_bytes(), unresolved_here)))
    except BaseException as exc:
        reports.put(("error", f"{type(exc).__name__}: {exc}"))


def unbox_or_fail(box: Any) -> Any:
    """Return a redelivered box's value; fail on negative values."""
    if box.value < 0:
        raise ValueError(f"bad value {box.value}")
    return box.value
