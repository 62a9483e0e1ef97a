"""A member of a group dies holding deliveries: a survivor processes them before it ends.

Real Redis Streams and NATS JetStream servers, a visibility timeout (ack
wait) of one second. Member B reads an object and "dies" (abandoned: it never
settles nor closes); the producer has left; member A reads the rest, and with
``drain_group`` (the default) goes on reading until B's delivery comes back,
processes it, and only then ends: nothing stays pending in the group or in the
store. With ``drain_group=False`` A ends first and B's object is stranded.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pfit.durable import TOPIC, Durable

from proxyflow.api import GroupBacklog
from proxyflow.connectors.file import FileConnector
from proxyflow.store import Store
from proxyflow.stream import AsyncStreamConsumer, StreamConsumer, StreamProducer

COUNT = 6
VISIBILITY = 1.0
RECEIVE = 10 * VISIBILITY
"""A consumer's timeout: far above the visibility timeout, so the wait for the group ends first."""


@pytest.fixture(params=["redis", "nats"])
def durable(request: pytest.FixtureRequest) -> Iterator[Durable]:
    url = request.getfixturevalue("redis_url" if request.param == "redis" else "nats_url")
    broker = Durable(request.param, url, visibility=VISIBILITY)
    yield broker
    broker.close()


@pytest.fixture
def connector(tmp_path: Path) -> FileConnector:
    return FileConnector(tmp_path / "objects")


@pytest.fixture
def store(connector: FileConnector) -> Iterator[Store]:
    s = Store(f"drain-it-{uuid.uuid4().hex[:8]}", connector)
    yield s
    s.close()


def stored(connector: FileConnector) -> int:
    return sum(1 for p in Path(connector.store_dir).rglob("*") if p.is_file())


def send_all(durable: Durable, store: Store) -> None:
    """Send ``COUNT`` objects; the producer then leaves the topic's roster."""
    with StreamProducer(durable.publisher(), default_store=store) as producer:
        for i in range(COUNT):
            producer.send(TOPIC, i)
        producer.close(topics=[TOPIC], stores=False)


def member(durable: Durable, store: Store, **options: Any) -> StreamConsumer[int]:
    return StreamConsumer(
        durable.subscriber(), timeout=RECEIVE, store_overrides={store.name: store}, **options
    )


def die_holding_one(durable: Durable, store: Store) -> int:
    """Member B reads one object, then is abandoned without settling it."""
    held: int = member(durable, store, ack="manual").next_object()
    return held


@pytest.mark.timeout(60)
def test_the_survivor_processes_a_dead_member_s_delivery_before_it_ends(
    durable: Durable, store: Store, connector: FileConnector
) -> None:
    send_all(durable, store)
    lost = die_holding_one(durable, store)
    survivor = member(durable, store, ack="manual")
    got = []
    for obj in survivor.iter_objects():  # ends only once the group has drained
        got.append(obj)
        survivor.ack(obj)
    assert got[-1] == lost  # came back after the visibility timeout, after the others
    assert sorted(got) == list(range(COUNT))
    assert survivor.stats.redelivered == 1
    assert survivor.subscriber.backlog(TOPIC) == GroupBacklog(0, 0)  # type: ignore[attr-defined]
    assert stored(connector) == 0  # every object acknowledged and evicted
    survivor.close()


@pytest.mark.timeout(60)
def test_without_drain_group_the_dead_member_s_delivery_is_stranded(
    durable: Durable, store: Store, connector: FileConnector
) -> None:
    send_all(durable, store)
    lost = die_holding_one(durable, store)
    survivor = member(durable, store, drain_group=False)
    got = list(survivor.iter_objects())
    assert lost not in got
    assert len(got) == COUNT - 1
    backlog = survivor.subscriber.backlog(TOPIC)  # type: ignore[attr-defined]
    assert backlog == GroupBacklog(0, 1)  # still pending in the group...
    assert stored(connector) == 1  # ...and its object in the store
    survivor.close()


def _async_member(durable: Durable) -> Any:
    """An asyncio subscriber of the same group as ``durable.subscriber()``."""
    if durable.kind == "redis":
        from proxyflow.shims.redis import AsyncRedisStreamSubscriber

        return AsyncRedisStreamSubscriber(
            durable.url,
            [TOPIC],
            group="workers",
            prefix=f"{durable.name}:",
            visibility_timeout=VISIBILITY,
            claim_interval=VISIBILITY / 4,
            poll_interval=0.1,
        )
    from proxyflow.shims.nats import AsyncJetStreamSubscriber

    return AsyncJetStreamSubscriber(
        durable.url,
        [TOPIC],
        durable="workers",
        stream=durable.name,
        ack_wait=VISIBILITY,
        max_deliver=durable.max_deliveries,
        dead_letter_topic="dead",
    )


@pytest.mark.timeout(60)
def test_the_asyncio_survivor_drains_the_group_too(
    durable: Durable, store: Store, connector: FileConnector
) -> None:
    send_all(durable, store)
    lost = die_holding_one(durable, store)

    async def survive() -> tuple[list[int], GroupBacklog]:
        subscriber = _async_member(durable)
        async with AsyncStreamConsumer[int](
            subscriber, timeout=RECEIVE, store_overrides={store.name: store}
        ) as survivor:
            got = [obj async for obj in survivor.iter_objects()]  # ack="auto"
            return got, await subscriber.backlog(TOPIC)

    got, backlog = asyncio.run(asyncio.wait_for(survive(), 50))
    assert got[-1] == lost
    assert sorted(got) == list(range(COUNT))
    assert backlog == GroupBacklog(0, 0)
    assert stored(connector) == 0
