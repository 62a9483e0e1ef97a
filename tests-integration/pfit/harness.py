"""Start scenario roles in threads or spawned processes, with timeouts everywhere."""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from typing import Any

from pfit.backends import BrokerSpec, ConnectorSpec
from pfit.roles import Plan, run_producer

SPAWN = multiprocessing.get_context("spawn")


class RoleFailed(AssertionError):
    """A producer, consumer, dispatcher or worker reported an error or stalled."""


def wait_report(reports: Any, kind: str, timeout: float = 30.0) -> Any:
    """Return the value of the next report of ``kind``; fail on an error report or a timeout."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RoleFailed(f"no {kind!r} report within {timeout}s")
        try:
            got, value = reports.get(timeout=remaining)
        except queue.Empty:
            continue
        if got == "error":
            raise RoleFailed(f"role failed: {value}")
        if got == kind:
            return value


class Producer:
    """A producer running :func:`pfit.roles.run_producer` in a thread or a process."""

    def __init__(
        self,
        broker: BrokerSpec,
        store_source: ConnectorSpec | Any,
        plan: Plan,
        *,
        process: bool = False,
    ) -> None:
        self.reports: Any = SPAWN.Queue() if process else queue.Queue()
        args = (broker, store_source, plan, self.reports)
        if process:
            self.runner: Any = SPAWN.Process(target=run_producer, args=args, daemon=True)
        else:
            self.runner = threading.Thread(target=run_producer, args=args, daemon=True)
        self.runner.start()

    def ready(self, timeout: float = 30.0) -> str:
        """Wait until the publisher exists; return its address (zmq) or ``""``."""
        return str(wait_report(self.reports, "ready", timeout))

    def finish(self, timeout: float = 30.0) -> int:
        """Wait for the producer to end; return how many objects it sent."""
        sent = int(wait_report(self.reports, "done", timeout))
        self.runner.join(timeout)
        if self.runner.is_alive():
            raise RoleFailed(f"producer still running {timeout}s after it finished sending")
        if isinstance(self.runner, multiprocessing.process.BaseProcess):
            assert self.runner.exitcode == 0
        return sent

    def kill(self) -> None:
        """Stop a process left behind by a failed test."""
        if isinstance(self.runner, multiprocessing.process.BaseProcess) and self.runner.is_alive():
            self.runner.terminate()
            self.runner.join(5)


def stream(
    broker: BrokerSpec,
    store_source: ConnectorSpec | Any,
    plan: Plan,
    *,
    process: bool = False,
) -> tuple[Producer, Any]:
    """Start a producer and connect one subscriber in the right order for the shim.

    Returns the producer and the subscriber; the caller consumes, then calls
    ``producer.finish()``.
    """
    subscriber = broker.subscriber() if broker.subscribe_first else None
    producer = Producer(broker, store_source, plan, process=process)
    try:
        address = producer.ready()
        if subscriber is None:
            subscriber = broker.subscriber(address)
    except BaseException:
        producer.kill()
        if subscriber is not None:
            subscriber.close()
        raise
    return producer, subscriber


def collect_until(
    reports: Any, kind: str, times: int, timeout: float = 60.0
) -> list[tuple[str, Any]]:
    """Gather every report until ``kind`` was seen ``times`` times; fail on an error or timeout."""
    deadline = time.monotonic() + timeout
    seen: list[tuple[str, Any]] = []
    while sum(1 for got, _ in seen if got == kind) < times:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RoleFailed(f"saw {kind!r} fewer than {times} times within {timeout}s: {seen!r}")
        try:
            got, value = reports.get(timeout=remaining)
        except queue.Empty:
            continue
        if got == "error":
            raise RoleFailed(f"role failed: {value}")
        seen.append((got, value))
    return seen
