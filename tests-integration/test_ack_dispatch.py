"""The dispatcher acknowledging items on a process pool, over Redis Streams and JetStream.

A task failure gives its item back (nack); the broker hands it out again; once
it was delivered ``retries`` times it is rejected into the dead letters. Every
other item is acknowledged when its task has finished, and its object evicted.
"""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from pfit.durable import TOPIC, Durable
from pfit.tasks import check_sample

from proxyflow.connectors.file import FileConnector
from proxyflow.executors import Settlement, dispatch
from proxyflow.store import Store
from proxyflow.stream import StreamConsumer, StreamProducer
from proxyflow.stream.events import decode_event

COUNT = 6
BAD = 3
RETRIES = 2


@pytest.fixture(params=["redis", "nats"])
def durable(request: pytest.FixtureRequest) -> Iterator[Durable]:
    url = request.getfixturevalue("redis_url" if request.param == "redis" else "nats_url")
    broker = Durable(request.param, url, visibility=2.0)
    yield broker
    broker.close()


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as executor:
        yield executor


def test_failure_nack_redelivery_retry_limit_dead_letter(
    durable: Durable, pool: ProcessPoolExecutor, tmp_path: Path
) -> None:
    store_dir = tmp_path / "objects"
    store = Store(f"ack-dispatch-{uuid.uuid4().hex[:8]}", FileConnector(store_dir))
    with StreamProducer(durable.publisher(), default_store=store) as producer:
        for i in range(COUNT):
            producer.send(TOPIC, {"i": i, "bad": i == BAD}, metadata={"i": i})
        producer.close(topics=[TOPIC], stores=False)
    dead = durable.dead_letters()
    consumer: StreamConsumer[Any] = StreamConsumer(
        durable.subscriber(), ack="manual", timeout=30, store_overrides={store.name: store}
    )
    with consumer:
        outcomes = list(
            dispatch(consumer, check_sample, pool, redeliver=True, retries=RETRIES, timeout=60)
        )
    good = sorted(o.get() for o in outcomes if o.ok)
    assert good == [i * 10 for i in range(COUNT) if i != BAD]
    assert all(o.settlement is Settlement.ACKED for o in outcomes if o.ok)
    failures = [o for o in outcomes if not o.ok]
    assert [o.metadata["i"] for o in failures] == [BAD] * (RETRIES + 1)
    assert [o.settlement for o in failures] == [Settlement.NACKED] * RETRIES + [Settlement.REJECTED]
    assert [o.attempts for o in failures] == list(range(1, RETRIES + 2))
    assert all(isinstance(o.exception, ValueError) for o in failures)
    assert consumer.stats.redelivered == RETRIES
    letter = decode_event(dead.next_delivery(timeout=30).message)
    assert letter.metadata == {"i": BAD}  # type: ignore[union-attr]
    left = [p for p in store_dir.rglob("*") if p.is_file()]
    assert len(left) == 1  # the rejected object stays for whoever handles the dead letter
    store.close()


def test_auto_ack_consumer_is_refused(durable: Durable, pool: ProcessPoolExecutor) -> None:
    consumer: StreamConsumer[Any] = StreamConsumer(durable.subscriber(), timeout=5)
    with consumer, pytest.raises(TypeError, match='ack="manual"'):
        dispatch(consumer, check_sample, pool)
