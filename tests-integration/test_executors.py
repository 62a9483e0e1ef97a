"""proxyflow.executors end to end: a producer process streams over ZeroMQ with a file
store; this process dispatches every proxy, unresolved, to worker processes of a process
pool or of a real Dask LocalCluster; the workers read (and evict) the objects."""

from __future__ import annotations

import hashlib
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest
from pfit.backends import BrokerSpec, ConnectorSpec, count_objects
from pfit.harness import stream
from pfit.roles import Plan, make_payload
from pfit.tasks import digest

from proxyflow.executors import dispatch
from proxyflow.proxy import is_resolved
from proxyflow.stream import StreamConsumer

COUNT = 8
SIZE = 256 * 1024


@pytest.fixture(scope="module", params=["process", "dask"])
def executor(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "process":
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
            yield pool
        return
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster, timeout=60) as client,
    ):
        yield client


def test_dispatch_a_zeromq_stream(
    executor: Any,
    broker_spec: Callable[..., BrokerSpec],
    connector_spec: Callable[[str], ConnectorSpec],
) -> None:
    broker, spec = broker_spec("zmq"), connector_spec("file")
    plan = Plan(broker.topic, count=COUNT, size=SIZE, evict=True)
    producer, subscriber = stream(broker, spec, plan, process=True)
    try:
        with StreamConsumer(subscriber, timeout=30) as consumer:
            results = list(dispatch(consumer, digest, executor, max_in_flight=4, timeout=60))
        assert producer.finish() == COUNT
    finally:
        producer.kill()
    by_index = {int(r.metadata["index"]): r for r in results}
    assert sorted(by_index) == list(range(COUNT))
    for index, result in by_index.items():
        assert result.get() == (True, hashlib.sha256(make_payload(index, SIZE)).hexdigest())
        assert not is_resolved(result.item)  # the dispatcher never read an object
    assert count_objects(spec, spec.build()) == 0  # each worker evicted what it read
