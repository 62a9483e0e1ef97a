"""Several producer processes on one topic; one consumer waits for all their ends of stream."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pfit.backends import count_objects
from pfit.harness import Producer
from pfit.roles import Plan, consume, make_payload

PRODUCERS = 3
PER_PRODUCER = 5


@pytest.mark.slow
@pytest.mark.parametrize("shim", ["redis", "redis-queue"])
def test_consumer_ends_after_every_producer_ended(
    broker_spec: Any, connector_spec: Any, verify_connector: Any, shim: str
) -> None:
    spec = connector_spec("file")
    broker = broker_spec(shim, process=True)
    subscriber = broker.subscriber()  # before any producer publishes
    producers = []
    try:
        for p in range(PRODUCERS):
            plan = Plan(
                broker.topic,
                count=PER_PRODUCER,
                first_index=p * PER_PRODUCER,
                store_name=f"mp-{p}-{uuid.uuid4().hex[:6]}",
            )
            producers.append(Producer(broker, spec, plan, process=True))
        for producer in producers:
            producer.ready()
        got = consume(subscriber, producers_per_topic=PRODUCERS)
        assert sum(producer.finish() for producer in producers) == PRODUCERS * PER_PRODUCER
    finally:
        for producer in producers:
            producer.kill()

    indexes = [r.index for r in got]
    assert sorted(indexes) == list(range(PRODUCERS * PER_PRODUCER))
    for p in range(PRODUCERS):  # each producer's objects arrive in its send order
        own = [i for i in indexes if i // PER_PRODUCER == p]
        assert own == sorted(own)
    for r in got:
        assert r.was_proxy_unresolved
        assert r.value == make_payload(r.index, 256)
    assert count_objects(spec, verify_connector(spec)) == 0
