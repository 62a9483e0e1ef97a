"""Role processes, the ledger of their reports, and waiting on it with deadlines."""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SPAWN = multiprocessing.get_context("spawn")


class ScenarioFailed(AssertionError):
    """A role reported an error, died unexpectedly, or the scenario stalled."""


class Role:
    """One spawned process with a report queue and an order queue of its own."""

    def __init__(self, name: str, target: Callable[..., None], *args: Any) -> None:
        self.name = name
        self.reports: Any = SPAWN.Queue()
        self.control: Any = SPAWN.Queue()
        self.killed = False
        self.done = False
        self.process = SPAWN.Process(
            target=target, args=(*args, self.reports, self.control), name=name, daemon=True
        )
        self.process.start()

    def order(self, word: str) -> None:
        """Send ``"go"`` or ``"stop"``."""
        self.control.put(word)

    def kill(self) -> None:
        """``SIGKILL`` this role's own process (by its id) and reap it."""
        pid = self.process.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        self.process.join(10)
        self.killed = True

    def reap(self) -> None:
        """Make sure the process is gone (end of a scenario, or a failed one)."""
        self.process.join(5)
        if self.process.is_alive():
            self.kill()


@dataclass
class Ledger:
    """Everything the roles of a scenario reported, tallied."""

    sent: set[int] = field(default_factory=set)
    send_failures: int = 0
    acked: Counter[int] = field(default_factory=Counter)
    redelivered: int = 0
    after_end: int = 0
    ends: int = 0
    store_errors: int = 0
    broker_errors: int = 0
    evict_retries: int = 0
    maybe_published: set[int] = field(default_factory=set)
    evict_failures: int = 0
    missing: list[str] = field(default_factory=list)
    corrupt: list[int] = field(default_factory=list)
    seen: dict[str, Counter[str]] = field(default_factory=dict)
    values: dict[str, list[Any]] = field(default_factory=dict)

    def record(self, role: str, kind: str, value: Any) -> None:
        self.seen.setdefault(role, Counter())[kind] += 1
        self.values.setdefault(f"{role}:{kind}", []).append(value)
        if kind == "sent":
            self.sent.update(value)
        elif kind == "failed":
            self.send_failures += 1
        elif kind == "acked":
            for index, count, after_end in value:
                self.acked[index] += 1
                self.redelivered += count > 1
                self.after_end += after_end
        elif kind == "end":
            self.ends += 1
        elif kind == "store-error":
            self.store_errors += 1
        elif kind == "broker-error":
            self.broker_errors += 1
        elif kind == "evict-failed":
            self.evict_failures += value
        elif kind == "maybe-published":
            self.maybe_published.update(value)
        elif kind == "evict-retried":
            self.evict_retries += value
        elif kind == "missing":
            self.missing.append(value)
        elif kind == "corrupt":
            self.corrupt.append(value)

    def count(self, role: Role, kind: str) -> int:
        return self.seen.get(role.name, Counter())[kind]

    def last(self, role: Role, kind: str) -> Any:
        return self.values[f"{role.name}:{kind}"][-1]

    def summary(self) -> str:
        lost = sorted(self.sent - set(self.acked))
        return (
            f"sent={len(self.sent)} acked={len(self.acked)} missing-acks={lost[:20]} "
            f"failures={self.send_failures} store-errors={self.store_errors} "
            f"broker-errors={self.broker_errors} ends={self.ends} reports={self.seen}"
        )


class Monitor:
    """Collects the reports of every role into a ledger and waits on it."""

    def __init__(self) -> None:
        self.roles: list[Role] = []
        self.ledger = Ledger()
        self.on_report: Callable[[Role, str, Any], None] | None = None

    def add(self, role: Role) -> Role:
        self.roles.append(role)
        return role

    def _take(self, role: Role, wait: float) -> bool:
        """Record one report of ``role``; ``False`` if none came within ``wait``."""
        try:
            kind, value = role.reports.get(timeout=wait)
        except queue.Empty:
            return False
        if kind == "error":
            raise ScenarioFailed(f"{role.name} failed: {value}; {self.ledger.summary()}")
        if kind == "done":
            role.done = True
        self.ledger.record(role.name, kind, value)
        if self.on_report is not None:
            self.on_report(role, kind, value)
        return True

    def _pump(self, wait: float) -> None:
        for role in self.roles:
            self._take(role, wait)
        for role in self.roles:
            if not role.killed and not role.done and role.process.exitcode is not None:
                while not role.done and self._take(role, 1.0):  # what it said before exiting
                    pass
                if not role.done:
                    raise ScenarioFailed(f"{role.name} exited with {role.process.exitcode}")

    def until(self, what: str, predicate: Callable[[Ledger], bool], timeout: float = 60.0) -> None:
        """Gather reports until ``predicate(ledger)`` holds; fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate(self.ledger):
            if time.monotonic() > deadline:
                raise ScenarioFailed(f"{what}: not within {timeout}s; {self.ledger.summary()}")
            self._pump(0.02)

    def reap(self) -> None:
        for role in self.roles:
            role.reap()
