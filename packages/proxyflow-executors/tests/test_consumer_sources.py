"""The dispatcher's checks of a StreamConsumer source: does it acknowledge, and when."""

from __future__ import annotations

import queue
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pfx_support import RedeliveringSource
from pfx_tasks import unbox_or_fail

from proxyflow.executors import Dispatcher, Settlement, dispatch
from proxyflow.shims.queue import QueuePublisher, QueueSubscriber
from proxyflow.stream import StreamConsumer, StreamProducer


class NeverDelivers:
    """An acknowledging subscriber (it has next_delivery) that is never read here."""

    topics = ("t",)

    def next_delivery(self, timeout: float | None = None) -> Any:
        raise TimeoutError

    def next_message(self, timeout: float | None = None) -> bytes:
        raise TimeoutError

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> bytes:
        raise StopIteration

    def close(self) -> None:
        pass


def test_plain_consumer_is_consumed_not_acknowledged() -> None:
    q: queue.Queue[Any] = queue.Queue()
    with StreamProducer(QueuePublisher({"t": q})) as producer:
        producer.send("t", 5)
        producer.close(topics=["t"])
    consumer: StreamConsumer[Any] = StreamConsumer(QueueSubscriber(q, topics=["t"]), timeout=5)
    with pytest.raises(TypeError, match="acknowledges"):
        Dispatcher(consumer, abs, ThreadPoolExecutor(1), acknowledge=True)
    with ThreadPoolExecutor(1) as pool:
        outcomes = list(dispatch(consumer, abs, pool))
    assert [o.settlement for o in outcomes] == [Settlement.CONSUMED]
    assert outcomes[0].get() == 5


def test_auto_acknowledging_consumer_is_refused_unless_told() -> None:
    consumer: StreamConsumer[Any] = StreamConsumer(NeverDelivers())
    assert consumer.acknowledges
    with ThreadPoolExecutor(1) as pool:
        with pytest.raises(TypeError, match='ack="manual"'):
            Dispatcher(consumer, abs, pool)
        Dispatcher(consumer, abs, pool, acknowledge=False).close()  # at-most-once, on purpose
        manual: StreamConsumer[Any] = StreamConsumer(NeverDelivers(), ack="manual")
        Dispatcher(manual, abs, pool, redeliver=True).close()
    with pytest.raises(TypeError, match="redeliver"):
        Dispatcher(object(), abs, ThreadPoolExecutor(1), redeliver=True)  # type: ignore[arg-type]


def test_redeliver_nacks_until_the_retry_limit_then_rejects() -> None:
    source = RedeliveringSource([1, -1, 2])
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(
            dispatch(source, unbox_or_fail, pool, redeliver=True, retries=2, retry_delay=0.5)
        )
    assert sorted(o.get() for o in outcomes if o.ok) == [1, 2]
    failed = [o for o in outcomes if not o.ok]
    assert [o.settlement for o in failed] == [Settlement.NACKED] * 2 + [Settlement.REJECTED]
    assert [o.attempts for o in failed] == [1, 2, 3]
    assert source.nacked == [(-1, 0.5), (-1, 0.5)]
    assert source.rejected == [-1]
    assert sorted(source.acked) == [1, 2]
    assert source.held == {}
