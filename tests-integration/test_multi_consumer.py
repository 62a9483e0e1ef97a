"""Several consumers: pub/sub fan-out (each gets everything) and queue work sharing
(each object goes to exactly one consumer). Consumers run in spawned processes."""

from __future__ import annotations

from typing import Any

import pytest
from pfit.backends import count_objects
from pfit.harness import SPAWN, Producer, wait_report
from pfit.roles import Plan, make_payload, run_consumer

COUNT = 12


def _start_consumers(broker: Any, address: str, n: int) -> tuple[list[Any], list[Any]]:
    queues = [SPAWN.Queue() for _ in range(n)]
    procs = [
        SPAWN.Process(target=run_consumer, args=(broker, address, q), daemon=True) for q in queues
    ]
    for proc in procs:
        proc.start()
    for q in queues:
        wait_report(q, "subscribed")
    return procs, queues


def _finish(procs: list[Any], queues: list[Any]) -> list[list[tuple[int, Any]]]:
    results = [wait_report(q, "done") for q in queues]
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    return results


def _kill(procs: list[Any]) -> None:
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
            proc.join(5)


@pytest.mark.slow
@pytest.mark.parametrize("shim", ["redis", "zmq"])
def test_fan_out_every_consumer_gets_every_object(
    broker_spec: Any, connector_spec: Any, verify_connector: Any, shim: str
) -> None:
    spec = connector_spec("file")
    broker = broker_spec(shim, process=True)
    plan = Plan(broker.topic, count=COUNT, evict=False, subscribers=2)
    procs: list[Any] = []
    producer = None
    try:
        if broker.subscribe_first:
            procs, queues = _start_consumers(broker, "", 2)
            producer = Producer(broker, spec, plan, process=True)
            producer.ready()
        else:  # zmq: the producer binds, consumers connect, the producer waits for both
            producer = Producer(broker, spec, plan, process=True)
            procs, queues = _start_consumers(broker, producer.ready(), 2)
        results = _finish(procs, queues)
        assert producer.finish() == COUNT
    finally:
        _kill(procs)
        if producer is not None:
            producer.kill()

    for got in results:
        assert [index for index, _ in got] == list(range(COUNT))
        assert all(value == make_payload(index, plan.size) for index, value in got)
    # evict=False: resolving did not delete anything; cleanup is the application's job.
    assert count_objects(spec, verify_connector(spec)) == COUNT


@pytest.mark.slow
def test_queue_work_sharing_each_object_once(
    broker_spec: Any, connector_spec: Any, verify_connector: Any
) -> None:
    spec = connector_spec("redis")
    broker = broker_spec("redis-queue", process=True)
    # A queue hands each message to one consumer, end-of-stream events too; the
    # consumers end the topic by the producers' roster, so one producer and the
    # default arguments are enough.
    plan = Plan(broker.topic, count=COUNT, evict=True)
    procs: list[Any] = []
    producer = None
    try:
        procs, queues = _start_consumers(broker, "", 2)
        producer = Producer(broker, spec, plan, process=True)
        results = _finish(procs, queues)
        assert producer.finish() == COUNT
    finally:
        _kill(procs)
        if producer is not None:
            producer.kill()

    seen = [index for got in results for index, _ in got]
    assert sorted(seen) == list(range(COUNT))  # every object exactly once
    for got in results:
        indexes = [index for index, _ in got]
        assert indexes == sorted(indexes)  # FIFO within each consumer
        assert all(value == make_payload(index, plan.size) for index, value in got)
    assert count_objects(spec, verify_connector(spec)) == 0  # all evicted by their reader
