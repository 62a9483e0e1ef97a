"""The fault scenarios: each starts its own servers and roles, injects one fault, tallies.

Servers are private processes on free loopback ports, persistent (Redis with
an append-only file synced on every write, JetStream with file storage), and
are killed, frozen and restarted only through their own process ids. Every
wait has a deadline.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from faultkit.backends import BrokerSpec, StoreSpec
from faultkit.harness import Ledger, Monitor, Role, ScenarioFailed
from faultkit.roles import ConsumerPlan, ProducerPlan, run_consumer, run_producer

COUNT = 48
"""Objects per scenario (a multiple of every batch size used)."""

SHORT_VISIBILITY = 2.0
"""Visibility timeout when a consumer dies: its deliveries come back after two seconds."""

LONG_VISIBILITY = 15.0
"""Visibility timeout when a consumer only waits out a fault: nothing it holds is reclaimed."""


@dataclass(frozen=True)
class Outcome:
    """What one scenario measured.

    Attributes:
        scenario: The scenario's name.
        shim: ``"redis-streams"`` or ``"jetstream"``.
        sent: Objects whose send returned.
        acknowledged: Distinct objects whose delivery was acknowledged.
        acked_twice: Objects acknowledged more than once.
        twice_unexplained: Of those, objects whose send had returned after
            the broker was killed (a broker that forgets its consumers' state
            in a crash may hand out again anything it had stored) and were not
            sent twice after a publish that timed out (``maybe_published``).
        redelivered: Acknowledged object deliveries the broker had handed out before.
        after_end: Objects acknowledged only after the consumer's
            ``StreamConsumer`` had reached the end of the stream (read by a
            fresh consumer of the same group): 0, since a consumer ends only
            once its group has drained.
        lost: Sent objects never acknowledged.
        maybe_published: Objects whose publish timed out, kept in the store
            by the producer (the broker may have stored the event) and sent
            again: they may be acknowledged twice.
        left_in_store: Objects in the store once the stream was consumed.
        in_flight: Objects of a send that never returned (a producer killed
            inside it): they are in the store, their event was never published.
        may_leave: Objects a send that raised or never returned, or an
            eviction that failed, may have left in the store (``in_flight``
            plus ``send_failures`` plus ``evict_failures``): a bound on
            ``left_in_store``.
        held_by_victim: Objects a killed consumer had resolved but not acknowledged.
        send_failures: Sends that raised (and were retried).
        store_errors: Resolutions that failed (their deliveries given back).
        evict_retries: Acknowledged objects whose eviction failed (the store
            was down) and that the consumer tried again later: its
            ``stats.evict_retries``.
        evict_failures: Acknowledged objects the consumer still could not
            evict when it closed: its ``stats.evict_failures``.
        broker_errors: Broker calls of consumers that failed (and were retried).
        missing: Deliveries whose object was not in the store, which the
            consumer rejects: a duplicate of an object already acknowledged
            (the broker handed it out again because it was held longer than
            the visibility timeout). (A send whose publish timed out no longer
            causes one: the producer keeps its object.)
        seconds: Wall time of the scenario.
    """

    scenario: str
    shim: str
    sent: int
    acknowledged: int
    acked_twice: int
    twice_unexplained: int
    redelivered: int
    after_end: int
    lost: int
    maybe_published: int
    left_in_store: int
    in_flight: int
    may_leave: int
    held_by_victim: int
    send_failures: int
    store_errors: int
    evict_retries: int
    evict_failures: int
    broker_errors: int
    missing: int
    seconds: float


@dataclass
class Run:
    """The servers, specs and roles of one scenario."""

    shim: str
    broker_server: Any
    store_server: Any
    monitor: Monitor
    visibility: float
    before_fault: frozenset[int] = frozenset()

    @property
    def ledger(self) -> Ledger:
        return self.monitor.ledger

    def specs(self) -> tuple[BrokerSpec, StoreSpec]:
        return self._broker, self._store

    def prepare(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self._broker = BrokerSpec(
            self.shim, self.broker_server.url, "results", f"faults-{tag}", self.visibility
        )
        if self.shim == "redis-streams":
            self._broker = BrokerSpec(
                self.shim, self.broker_server.url, "results", f"faults:{tag}:", self.visibility
            )
        self._store = StoreSpec(self.store_server.url, f"objects:{tag}:", f"faults-{tag}")

    def consumer(self, name: str, plan: ConsumerPlan) -> Role:
        role = self.monitor.add(Role(name, run_consumer, self._broker, self._store, plan))
        self.monitor.until(f"{name} ready", lambda led: led.count(role, "ready") > 0, 60)
        return role

    def producer(self, plan: ProducerPlan) -> Role:
        role = self.monitor.add(Role("producer", run_producer, self._broker, self._store, plan))
        self.monitor.until("producer ready", lambda led: led.count(role, "ready") > 0, 60)
        return role

    def finish(self, producer: Role, consumers: list[Role], timeout: float = 60.0) -> None:
        """Wait until every sent object is acknowledged and the stream ended, then stop."""

        def complete(led: Ledger) -> bool:
            produced = producer.killed or producer.done
            ended = producer.killed or led.ends > 0
            return produced and ended and led.sent <= set(led.acked)

        self.monitor.until("every sent object acknowledged", complete, timeout)
        for role in consumers:
            role.order("stop")
        self.monitor.until("consumers drained", lambda led: all(r.done for r in consumers), timeout)


def _servers(shim: str) -> tuple[Any, Any]:
    from proxyflow.testing.nats_server import NatsServer
    from proxyflow.testing.redis_server import RedisServer

    store = RedisServer(persistent=True)
    broker = RedisServer(persistent=True) if shim == "redis-streams" else NatsServer()
    return broker, store


@contextlib.contextmanager
def running(shim: str, visibility: float) -> Iterator[Run]:
    """Start the servers of one scenario; stop every role and server afterwards."""
    broker, store = _servers(shim)
    monitor = Monitor()
    try:
        store.start()
        broker.start()
        run = Run(shim, broker, store, monitor, visibility)
        run.prepare()
        yield run
    finally:
        try:
            monitor.reap()
        finally:
            with contextlib.suppress(Exception):
                broker.stop()
            store.stop()


def _answer_failures(producer: Role, ready: Callable[[], bool]) -> Callable[..., None]:
    """An ``on_report`` hook: each failed send of ``producer`` is retried once ``ready()``."""
    waiting: list[int] = []

    def hook(role: Role, kind: str, value: Any) -> None:
        if role is producer and kind == "failed":
            if ready():
                producer.order("go")
            else:
                waiting.append(1)

    def release() -> None:
        while waiting:
            waiting.pop()
            producer.order("go")

    hook.release = release  # type: ignore[attr-defined]
    return hook


# --- scenarios --------------------------------------------------------------------------------


def consumer_killed(run: Run, *, batch_size: int, hold: int, prefetch: int) -> int:
    """SIGKILL a consumer that holds resolved, unacknowledged objects; a second one finishes."""
    victim = run.consumer("consumer-1", ConsumerPlan(hold, prefetch, park_after=8))
    producer = run.producer(ProducerPlan(COUNT, batch_size=batch_size))
    run.monitor.until("consumer-1 parked", lambda led: led.count(victim, "parked") > 0)
    held = len(run.ledger.last(victim, "parked"))
    victim.kill()
    survivor = run.consumer("consumer-2", ConsumerPlan(hold, prefetch))
    run.finish(producer, [survivor])
    return held


def broker_killed(run: Run) -> None:
    """SIGKILL the broker while a consumer holds deliveries and a producer sends; restart it."""
    consumer = run.consumer("consumer", ConsumerPlan(hold=4, park_after=COUNT // 4))
    producer = run.producer(ProducerPlan(COUNT, hold_at=COUNT // 2))
    run.monitor.until(
        "both at the fault point",
        lambda led: led.count(consumer, "parked") > 0 and led.count(producer, "holding") > 0,
    )
    run.before_fault = frozenset(run.ledger.sent)  # everything the broker had stored
    run.broker_server.kill()
    up = [False]
    hook = _answer_failures(producer, lambda: up[0])
    run.monitor.on_report = hook
    producer.order("go")
    run.monitor.until("a send failed", lambda led: led.send_failures > 0)
    run.broker_server.restart()
    up[0] = True
    hook.release()  # type: ignore[attr-defined]
    consumer.order("go")
    run.finish(producer, [consumer])


def store_failed(run: Run, *, freeze: bool) -> None:
    """SIGKILL (or SIGSTOP) the store while both roles work; restart (or SIGCONT) it."""
    consumer = run.consumer("consumer", ConsumerPlan(hold=1, park_after=COUNT // 4))
    producer = run.producer(ProducerPlan(COUNT, hold_at=COUNT // 2))
    run.monitor.until(
        "both at the fault point",
        lambda led: led.count(consumer, "parked") > 0 and led.count(producer, "holding") > 0,
    )
    if freeze:
        run.store_server.pause()
    else:
        run.store_server.kill()
    up = [False]
    hook = _answer_failures(producer, lambda: up[0])
    run.monitor.on_report = hook
    consumer.order("go")
    producer.order("go")
    run.monitor.until(
        "the store failed both roles",
        lambda led: led.send_failures > 0 and led.store_errors > 0,
    )
    if freeze:
        run.store_server.resume()
    else:
        run.store_server.restart()
    up[0] = True
    hook.release()  # type: ignore[attr-defined]
    run.finish(producer, [consumer])


def producer_killed(run: Run) -> int:
    """SIGKILL the producer inside a publish (its object stored, its event not yet sent)."""
    consumer = run.consumer("consumer", ConsumerPlan(hold=1))
    producer = run.producer(ProducerPlan(COUNT, block_in_publish=COUNT // 2))
    run.monitor.until("producer inside a publish", lambda led: led.count(producer, "in-send") > 0)
    producer.kill()
    run.finish(producer, [consumer])
    return 1


@dataclass(frozen=True)
class Scenario:
    """A named scenario: how to run it and what it must show.

    Attributes:
        name: Its row in the table.
        fault: What fails: ``"consumer"``, ``"broker"``, ``"store"`` or ``"producer"``.
        visibility: The visibility timeout (ack wait) of the broker.
        run: Runs it; returns the objects a killed consumer held, or the
            objects of the send a killed producer never finished.
        leaves_nothing: Whether the store must be empty once the stream was
            consumed: no send was cut short in a way the store may still have
            applied, and failed evictions are retried once the store is back.
    """

    name: str
    fault: str
    visibility: float
    run: Callable[[Run], int | None]
    leaves_nothing: bool = False


SCENARIOS = (
    Scenario(
        "consumer killed (producer batches of 4)",
        "consumer",
        SHORT_VISIBILITY,
        lambda run: consumer_killed(run, batch_size=4, hold=2, prefetch=0),
    ),
    Scenario(
        "consumer killed (prefetch 8)",
        "consumer",
        SHORT_VISIBILITY,
        lambda run: consumer_killed(run, batch_size=1, hold=1, prefetch=8),
    ),
    Scenario("broker killed and restarted", "broker", LONG_VISIBILITY, broker_killed),
    Scenario(
        "store killed and restarted",
        "store",
        LONG_VISIBILITY,
        lambda run: store_failed(run, freeze=False),
        leaves_nothing=True,  # a put to a dead server fails before anything is stored
    ),
    Scenario(
        "store frozen (SIGSTOP, SIGCONT)",
        "store",
        LONG_VISIBILITY,
        lambda run: store_failed(run, freeze=True),
    ),
    Scenario("producer killed inside a send", "producer", SHORT_VISIBILITY, producer_killed),
)
"""Every scenario, in the order of the table."""


def scenario(name: str) -> Scenario:
    for item in SCENARIOS:
        if item.name == name:
            return item
    raise KeyError(name)


def run_scenario(shim: str, item: Scenario) -> Outcome:
    """Run one scenario against one durable shim and tally it."""
    start = time.monotonic()
    with running(shim, item.visibility) as run:
        extra = item.run(run)
        left = run.specs()[1].count()
        led = run.ledger
    victim = extra if item.fault == "consumer" else 0
    in_flight = extra if item.fault == "producer" else 0
    if not led.sent:
        raise ScenarioFailed(f"{item.name}: nothing was sent")
    return Outcome(
        scenario=item.name,
        shim=shim,
        sent=len(led.sent),
        acknowledged=len(led.acked),
        acked_twice=sum(1 for n in led.acked.values() if n > 1),
        twice_unexplained=sum(
            1
            for i, n in led.acked.items()
            if n > 1 and i not in run.before_fault and i not in led.maybe_published
        ),
        redelivered=led.redelivered,
        after_end=led.after_end,
        lost=len(led.sent - set(led.acked)),
        maybe_published=len(led.maybe_published),
        left_in_store=left,
        in_flight=in_flight or 0,
        may_leave=(in_flight or 0) + led.send_failures + led.evict_failures,
        held_by_victim=victim or 0,
        send_failures=led.send_failures,
        store_errors=led.store_errors,
        evict_retries=led.evict_retries,
        evict_failures=led.evict_failures,
        broker_errors=led.broker_errors,
        missing=len(led.missing),
        seconds=round(time.monotonic() - start, 1),
    )
