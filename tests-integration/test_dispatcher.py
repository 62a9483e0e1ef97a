"""The dispatcher pipeline: generator process -> dispatcher process -> worker processes.

The dispatcher consumes the stream and forwards each proxy (its pickle) to
the workers without resolving it, so the bytes it handles per object stay the
same whatever the object's size; the workers read the objects straight from
the store.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from pfit.backends import count_objects
from pfit.harness import SPAWN, Producer, collect_until, wait_report
from pfit.roles import Plan, make_payload, run_dispatcher, run_worker

WORKERS = 2
COUNT = 6


def _figure1(broker: Any, spec: Any, size: int) -> tuple[list[Any], list[Any]]:
    """Run the pipeline once; return what the dispatcher forwarded and the worker results."""
    tasks, reports, results = SPAWN.Queue(), SPAWN.Queue(), SPAWN.Queue()
    plan = Plan(broker.topic + f"-{size}", count=COUNT, size=size, evict=True)
    broker = type(broker)(broker.kind, plan.topic, broker.url, broker.channel)
    workers = [
        SPAWN.Process(target=run_worker, args=(tasks, results), daemon=True) for _ in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    procs: list[Any] = list(workers)
    producer = None
    try:
        if broker.subscribe_first:
            address = ""
        else:
            producer = Producer(broker, spec, plan, process=True)
            address = producer.ready()
        dispatcher = SPAWN.Process(
            target=run_dispatcher, args=(broker, address, tasks, reports, WORKERS), daemon=True
        )
        dispatcher.start()
        procs.append(dispatcher)
        wait_report(reports, "subscribed")
        if producer is None:
            producer = Producer(broker, spec, plan, process=True)
        forwarded = wait_report(reports, "dispatched", timeout=60)
        reports_of_workers = collect_until(results, "worker-done", WORKERS)
        outcomes = [value for kind, value in reports_of_workers if kind == "result"]
        assert producer.finish() == COUNT
        for proc in procs:
            proc.join(30)
            assert proc.exitcode == 0
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
        if producer is not None:
            producer.kill()
    return forwarded, outcomes


@pytest.mark.slow
@pytest.mark.parametrize("shim", ["zmq", "redis"])
def test_dispatcher_forwards_small_constant_bytes(
    broker_spec: Any, connector_spec: Any, verify_connector: Any, shim: str
) -> None:
    spec = connector_spec("file")
    broker = broker_spec(shim, process=True)
    per_object: dict[int, list[int]] = {}
    for size in (1024, 4 * 1024 * 1024):
        forwarded, outcomes = _figure1(broker, spec, size)

        assert sorted(index for index, _, _ in forwarded) == list(range(COUNT))
        assert not any(resolved for _, resolved, _ in forwarded), "dispatcher resolved a proxy"
        per_object[size] = [nbytes for _, _, nbytes in forwarded]

        assert sorted(index for index, *_ in outcomes) == list(range(COUNT))
        for index, arrived_unresolved, length, digest in outcomes:
            assert arrived_unresolved
            assert length == size
            expected = hashlib.blake2b(make_payload(index, size), digest_size=16).hexdigest()
            assert digest == expected
        assert count_objects(spec, verify_connector(spec)) == 0  # workers evicted on read

    small, large = per_object[1024], per_object[4 * 1024 * 1024]
    assert max(small + large) < 300
    # The same few hundred bytes whether the object holds 1 KiB or 4 MiB.
    assert abs(max(large) - min(small)) <= 8
