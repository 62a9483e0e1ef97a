"""The guide's producer/consumer scenario over connectors x shims x batching x placement.

Every case streams 8 objects with metadata through a producer-side filter
(drops index 4) and a consumer-side filter (keeps even indexes), so the
consumer must receive exactly 0, 2 and 6, and the stream must end by itself.
Most cases run the producer in a thread; one case per shim runs it in a
spawned process (file or redis connector).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pfit.backends import CONNECTOR_KINDS, SHIM_KINDS, ConnectorSpec, count_objects
from pfit.harness import stream
from pfit.roles import DROPPED_BY_PRODUCER, Plan, consume, consumer_keeps, make_payload

from proxyflow.store import Store

COUNT = 8
EXPECTED = [i for i in range(COUNT) if i != DROPPED_BY_PRODUCER and consumer_keeps({"index": i})]
STORED = COUNT - 1  # the producer filter drops one object before it is stored

STORE_CASES = [
    pytest.param(
        conn, shim, batch, evict, id=f"{conn}-{shim}-b{batch}-{'evict' if evict else 'keep'}"
    )
    for conn in CONNECTOR_KINDS
    for shim in SHIM_KINDS
    for batch in (1, 4)
    for evict in (True, False)
]
INLINE_CASES = [
    pytest.param(shim, batch, id=f"inline-{shim}-b{batch}")
    for shim in SHIM_KINDS
    for batch in (1, 4)
]
PROCESS_CASES = [
    pytest.param("file", "queue", 1, id="process-file-queue"),
    pytest.param("redis", "redis", 4, id="process-redis-redis"),
    pytest.param("file", "redis-queue", 4, id="process-file-redis-queue"),
    pytest.param("redis", "zmq", 1, id="process-redis-zmq"),
]


def _store_source(spec: ConnectorSpec, process: bool) -> tuple[Any, Store | None]:
    """The producer builds file/redis stores itself; a local store must live in the test."""
    if spec.kind == "local":
        assert not process
        store = Store(f"it-{uuid.uuid4().hex[:8]}", spec.build())
        return store, store
    return spec, None


def _run_stored(
    connector_spec: Any,
    broker_spec: Any,
    verify_connector: Any,
    conn: str,
    shim: str,
    batch: int,
    evict: bool,
    *,
    process: bool = False,
) -> None:
    spec = connector_spec(conn)
    broker = broker_spec(shim, process=process)
    source, local_store = _store_source(spec, process)
    plan = Plan(broker.topic, count=COUNT, batch_size=batch, evict=evict, producer_filter=True)
    try:
        producer, subscriber = stream(broker, source, plan, process=process)
        got = consume(subscriber, keep=consumer_keeps)
        assert producer.finish() == COUNT

        assert [r.index for r in got] == EXPECTED
        for r in got:
            assert r.was_proxy_unresolved, "the consumer must yield unresolved proxies"
            assert r.value == make_payload(r.index, plan.size)
            assert r.metadata == {"index": r.index, "tag": f"i{r.index}"}

        checker = local_store.connector if local_store else verify_connector(spec)
        for r in got:
            assert checker.exists(r.key) is (not evict)
        # Objects the consumer filtered out are evicted by it too when they asked for it.
        assert count_objects(spec, checker) == (0 if evict else STORED)
    finally:
        if local_store is not None:
            local_store.close()


@pytest.mark.parametrize(("conn", "shim", "batch", "evict"), STORE_CASES)
def test_stored_objects_threads(
    connector_spec: Any,
    broker_spec: Any,
    verify_connector: Any,
    conn: str,
    shim: str,
    batch: int,
    evict: bool,
) -> None:
    _run_stored(connector_spec, broker_spec, verify_connector, conn, shim, batch, evict)


@pytest.mark.slow
@pytest.mark.parametrize(("conn", "shim", "batch"), PROCESS_CASES)
def test_stored_objects_producer_process(
    connector_spec: Any, broker_spec: Any, verify_connector: Any, conn: str, shim: str, batch: int
) -> None:
    _run_stored(
        connector_spec, broker_spec, verify_connector, conn, shim, batch, True, process=True
    )


@pytest.mark.parametrize(("shim", "batch"), INLINE_CASES)
def test_inline_objects(broker_spec: Any, shim: str, batch: int) -> None:
    broker = broker_spec(shim)
    plan = Plan(broker.topic, count=COUNT, batch_size=batch, inline=True, producer_filter=True)
    producer, subscriber = stream(broker, None, plan)
    got = consume(subscriber, keep=consumer_keeps)
    assert producer.finish() == COUNT
    assert [r.index for r in got] == EXPECTED
    for r in got:
        assert not r.was_proxy_unresolved
        assert r.value == make_payload(r.index, plan.size)


@pytest.mark.parametrize(
    ("conn", "shim", "evict"),
    [
        pytest.param("local", "queue", True, id="local-queue"),
        pytest.param("file", "zmq", False, id="file-zmq-keep"),
        pytest.param("redis", "redis-queue", True, id="redis-redis-queue"),
    ],
)
def test_aggregator(
    connector_spec: Any, broker_spec: Any, verify_connector: Any, conn: str, shim: str, evict: bool
) -> None:
    spec = connector_spec(conn)
    broker = broker_spec(shim)
    source, local_store = _store_source(spec, False)
    plan = Plan(broker.topic, count=COUNT, batch_size=4, evict=evict, aggregate=True)
    try:
        producer, subscriber = stream(broker, source, plan)
        got = consume(subscriber)
        assert producer.finish() == COUNT
        # Two flushes of 4 objects each become two aggregated objects.
        assert len(got) == 2
        for r, first in zip(got, (0, 4), strict=True):
            assert r.was_proxy_unresolved
            assert r.value == [make_payload(i, plan.size) for i in range(first, first + 4)]
            # Metadata is merged in send order: for a repeated key the last value wins.
            assert r.metadata["index"] == first + 3
            assert r.metadata["tag"] == f"i{first + 3}"
        checker = local_store.connector if local_store else verify_connector(spec)
        assert count_objects(spec, checker) == (0 if evict else 2)
    finally:
        if local_store is not None:
            local_store.close()
