"""StreamConsumer acknowledgements against real Redis Streams and NATS JetStream.

Objects live in a file store; the broker is the real server. Each test checks
what the broker and the store hold afterwards: acknowledged objects are
evicted, everything else stays and is delivered again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pfit.durable import TOPIC, Durable, FlakyFileConnector

from proxyflow.api import BackendUnavailableError
from proxyflow.store import Store
from proxyflow.stream import StreamConsumer, StreamProducer
from proxyflow.stream.events import decode_event

RECEIVE = 10.0
"""Seconds a consumer waits for a message: far above any visibility timeout used here."""


@pytest.fixture(params=["redis", "nats"])
def durable(request: pytest.FixtureRequest) -> Iterator[Durable]:
    url = request.getfixturevalue("redis_url" if request.param == "redis" else "nats_url")
    broker = Durable(request.param, url, visibility=1.0)
    yield broker
    broker.close()


@pytest.fixture
def connector(tmp_path: Path) -> FlakyFileConnector:
    return FlakyFileConnector(tmp_path / "objects")


@pytest.fixture
def store(connector: FlakyFileConnector) -> Iterator[Store]:
    s = Store(f"ack-it-{uuid.uuid4().hex[:8]}", connector)
    yield s
    s.close()


def send(durable: Durable, store: Store, objs: list[Any], *, batch_size: int = 1) -> None:
    with StreamProducer(durable.publisher(), default_store=store, batch_size=batch_size) as p:
        for i, obj in enumerate(objs):
            p.send(TOPIC, obj, metadata={"i": i})
        p.close(topics=[TOPIC], stores=False)


def consumer(durable: Durable, store: Store, **options: Any) -> StreamConsumer[Any]:
    options.setdefault("timeout", RECEIVE)
    return StreamConsumer(durable.subscriber(), store_overrides={store.name: store}, **options)


def stored(store: Store, connector: FlakyFileConnector) -> int:
    """Objects left in the store's directory."""
    return sum(1 for p in Path(connector.store_dir).rglob("*") if p.is_file())


def test_manual_ack_evicts_on_acknowledgement(
    durable: Durable, store: Store, connector: FlakyFileConnector
) -> None:
    send(durable, store, ["a", "b", "c"])
    with consumer(durable, store, ack="manual") as reader:
        for i, proxy in enumerate(reader):
            assert proxy == "abc"[i]  # resolved in this process: not evicted yet
            assert stored(store, connector) == 3 - i
            reader.ack(proxy)
            assert stored(store, connector) == 2 - i
        assert reader.stats.acked == 4  # three objects and the end of stream
        assert reader.stats.redelivered == 0


def test_auto_ack_reads_the_stream_once(
    durable: Durable, store: Store, connector: FlakyFileConnector
) -> None:
    send(durable, store, list(range(5)), batch_size=2)
    with consumer(durable, store) as reader:
        assert [int(p) for p in reader] == [0, 1, 2, 3, 4]
        assert reader.stats.acked == 4  # batches of 2, 2, 1 and the end of stream
    assert stored(store, connector) == 0
    late = durable.subscriber()  # same group, after the visibility timeout: nothing left
    with pytest.raises(TimeoutError):
        late.next_delivery(timeout=3 * durable.visibility)


def test_consumer_crash_leaves_the_object_for_the_redelivery(
    durable: Durable, store: Store, connector: FlakyFileConnector
) -> None:
    producer = StreamProducer(durable.publisher(), default_store=store)
    producer.send(TOPIC, {"result": 42})
    producer.flush()
    crashed = consumer(durable, store, ack="manual")
    assert crashed.next_object() == {"result": 42}  # resolved, then the process "dies"
    survivor = consumer(durable, store, ack="manual")
    again = survivor.next_object()  # handed out again after the visibility timeout
    assert again == {"result": 42}
    assert survivor.stats.redelivered == 1
    assert stored(store, connector) == 1
    survivor.ack(again)
    assert stored(store, connector) == 0
    producer.close(topics=[TOPIC], stores=False)
    assert list(survivor.iter_objects()) == []
    survivor.close()
    crashed.close()


def test_store_failure_nacks_and_the_object_comes_again(
    durable: Durable, store: Store, connector: FlakyFileConnector
) -> None:
    send(durable, store, ["precious"])
    with consumer(durable, store, ack="manual") as reader:
        connector.down = True
        with pytest.raises(BackendUnavailableError):
            reader.next_object()
        assert reader.stats.nacked == 1
        connector.down = False
        again = reader.next_object()
        assert again == "precious"
        assert reader.stats.redelivered == 1
        reader.ack(again)
        assert list(reader.iter_objects()) == []
    assert stored(store, connector) == 0


def test_prefetch_takes_nothing_it_may_lose(
    durable: Durable, store: Store, connector: FlakyFileConnector
) -> None:
    send(durable, store, list(range(6)))
    first = consumer(durable, store, ack="manual", prefetch=4)
    taken = [first.next_object(), first.next_object()]
    assert taken == [0, 1]
    for obj in taken:
        first.ack(obj)
    first.close()  # objects resolved ahead are given back, still stored
    assert stored(store, connector) == 4
    second = consumer(durable, store, prefetch=4)
    rest = sorted(second.iter_objects())
    assert rest == [2, 3, 4, 5]
    second.close()
    assert stored(store, connector) == 0


def test_reject_sends_the_event_to_the_dead_letters(
    durable: Durable, store: Store, connector: FlakyFileConnector
) -> None:
    send(durable, store, ["poison"])
    dead = durable.dead_letters()
    with consumer(durable, store, ack="manual") as reader:
        proxy = reader.next()
        reader.reject(proxy)
        assert list(reader.iter_objects()) == []
        assert reader.stats.rejected == 1
    letter = dead.next_delivery(timeout=RECEIVE)
    event = decode_event(letter.message)
    assert event.metadata == {"i": 0}  # type: ignore[union-attr]
    assert stored(store, connector) == 1  # kept: the dead letter still points at it
