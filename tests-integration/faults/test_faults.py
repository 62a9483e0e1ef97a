"""Faults against the durable shims: every acknowledged send is delivered, nothing leaks.

Each test runs one scenario of `faultkit.scenarios` against Redis Streams
or JetStream: private Redis and NATS servers on free loopback ports, producer
and consumer processes, one fault injected by process id (a consumer, the
producer, the broker or the store server ``SIGKILL``-ed; the store
``SIGSTOP``-ped then ``SIGCONT``-ed). The same scenarios print the table of
``docs/reliability.md`` (``hatch run faults:report``).
"""

from __future__ import annotations

import pytest
from faultkit.backends import SHIMS
from faultkit.scenarios import COUNT, SCENARIOS, Scenario, run_scenario

from proxyflow.testing.nats_server import find_nats_server
from proxyflow.testing.redis_server import find_redis_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(150),
    pytest.mark.skipif(find_redis_server() is None, reason="no redis-server on this machine"),
]


def _needs_nats(shim: str) -> None:
    if shim == "jetstream" and find_nats_server() is None:
        pytest.skip("no nats-server on this machine")


@pytest.mark.parametrize("shim", SHIMS)
@pytest.mark.parametrize("item", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_every_sent_object_is_acknowledged_once_and_evicted(shim: str, item: Scenario) -> None:
    _needs_nats(shim)
    outcome = run_scenario(shim, item)
    assert outcome.sent > 0, outcome
    assert outcome.lost == 0, outcome
    assert outcome.acknowledged >= outcome.sent, outcome
    # A second acknowledgement only for what the broker had stored when it crashed
    # (JetStream writes its consumers' state lazily, and may deliver it again).
    assert outcome.twice_unexplained == 0, outcome
    # The survivor ends only once the group has drained: what a dead consumer held
    # comes back (after the visibility timeout) before the end, never after it.
    assert outcome.after_end == 0, outcome
    if shim == "redis-streams":  # an fsynced append-only file keeps every XACK
        # (an object sent again after a publish that timed out may come twice)
        assert outcome.acked_twice <= outcome.maybe_published, outcome
    # An object is left only by a send that raised or never returned; each is counted.
    assert outcome.left_in_store <= outcome.may_leave, outcome
    if item.leaves_nothing:
        assert outcome.left_in_store == 0, outcome
    if item.fault == "consumer":
        # What the dead consumer held comes back, counted as redelivered.
        assert outcome.held_by_victim > 0, outcome
        assert outcome.redelivered >= outcome.held_by_victim, outcome
    if item.fault == "store":
        # Deliveries given back after store failures come back, counted as redelivered.
        assert outcome.store_errors >= 1, outcome
        assert outcome.redelivered >= 1, outcome
        # Evictions that failed while the store was down were retried once it was back.
        assert outcome.evict_retries >= 1, outcome
        assert outcome.evict_failures == 0, outcome
    if item.fault in ("broker", "store"):
        assert outcome.send_failures >= 1, outcome  # the fault reached the producer
    if item.fault == "producer":
        assert outcome.in_flight == 1, outcome
        assert outcome.sent < COUNT, outcome
