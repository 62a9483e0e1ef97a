"""Honest sends: what `send()`, its `SendResult` and `flush()` report, object by object."""

from __future__ import annotations

import queue
import threading
import uuid
from typing import Any

import pytest
from pfs_connectors import FullAfter

from proxyflow.api import BackendFullError
from proxyflow.connectors.local import LocalConnector
from proxyflow.serialize import SerializationError
from proxyflow.shims.queue import QueuePublisher, QueueSubscriber
from proxyflow.store import Store
from proxyflow.stream import BatchSendError, SendResult, StreamConsumer, StreamProducer


def _consume(q: queue.Queue[Any]) -> list[Any]:
    with StreamConsumer(QueueSubscriber(q, topics=["t"]), timeout=5) as consumer:
        return [item for _, item in consumer.iter_objects_with_metadata()]


@pytest.mark.parametrize("position", range(4))
@pytest.mark.parametrize("inline", [False, True])
def test_unpicklable_object_fails_alone_at_its_own_send(position: int, inline: bool) -> None:
    q: queue.Queue[Any] = queue.Queue()
    store = None if inline else Store(f"s-{uuid.uuid4().hex[:8]}", LocalConnector())
    producer: StreamProducer[Any] = StreamProducer(
        QueuePublisher({"t": q}), default_store=store, batch_size=4
    )
    sent: list[int] = []
    results: list[SendResult] = []
    for i in range(8):
        if i == position:
            with pytest.raises(SerializationError):
                producer.send("t", threading.Lock())
            continue
        results.append(producer.send("t", i))
        sent.append(i)
    producer.close(topics=["t"], stores=False)
    assert all(r.done() for r in results)
    assert all(r.exception() is None for r in results)
    assert _consume(q) == sent
    if store is not None:
        assert store.connector.stats()["objects"] == 0  # type: ignore[attr-defined]


def test_results_are_pending_until_the_batch_is_flushed() -> None:
    q: queue.Queue[Any] = queue.Queue()
    producer: StreamProducer[int] = StreamProducer(QueuePublisher({"t": q}), batch_size=3)
    first, second = producer.send("t", 1), producer.send("t", 2)
    assert not first.done()
    assert not second.done()
    assert repr(first) == "SendResult(pending)"
    third = producer.send("t", 3)  # fills the batch
    assert [first.done(), second.done(), third.done()] == [True, True, True]
    assert first.result() is None
    assert repr(third) == "SendResult(sent)"


def test_asking_a_pending_result_flushes_its_topic() -> None:
    q: queue.Queue[Any] = queue.Queue()
    producer: StreamProducer[int] = StreamProducer(QueuePublisher({"t": q}), batch_size=10)
    result = producer.send("t", 1)
    assert q.empty()
    result.result(timeout=5)  # does not wait for a flush nobody makes
    assert not q.empty()


def test_unbatched_sends_are_done_when_they_return(publisher: Any) -> None:
    producer: StreamProducer[int] = StreamProducer(publisher)
    result = producer.send("t", 1)
    assert result.done()
    assert result.exception() is None


@pytest.mark.parametrize("room", range(0, 9, 3))
def test_full_store_reports_exactly_the_lost_objects(room: int) -> None:
    q: queue.Queue[Any] = queue.Queue()
    connector = FullAfter(room)
    store = Store(f"s-{uuid.uuid4().hex[:8]}", connector)
    producer: StreamProducer[int] = StreamProducer(
        QueuePublisher({"t": q}), default_store=store, batch_size=4
    )
    results: dict[int, SendResult] = {}
    errors: dict[int, BatchSendError] = {}
    for i in range(12):
        try:
            results[i] = producer.send("t", i)
        except BatchSendError as exc:
            errors[i] = exc
    for i, exc in errors.items():  # the send that filled a failed batch names itself
        assert i in {f.obj for f in exc.failures}
    reported = {f.send_index for exc in errors.values() for f in exc.failures}
    causes = [f.error for exc in errors.values() for f in exc.failures]
    assert all(isinstance(error, BackendFullError) for error in causes)
    try:
        producer.close(topics=["t"], stores=False)
    except BatchSendError as exc:
        reported |= {f.send_index for f in exc.failures}
    ok = [i for i, r in results.items() if r.exception() is None]
    failed = {i for i, r in results.items() if r.exception() is not None}
    assert failed <= reported
    assert reported == set(range(12)) - set(ok)
    assert _consume(q) == ok  # every success delivered, nothing else
    assert len(ok) == room - room % 4  # whole batches only: all or nothing
    assert connector.stored() == 0  # consumed (evicted) and no orphan left


def test_flush_names_failures_of_every_topic() -> None:
    qa: queue.Queue[Any] = queue.Queue()
    store = Store(f"s-{uuid.uuid4().hex[:8]}", FullAfter(0))
    producer: StreamProducer[int] = StreamProducer(
        QueuePublisher({"a": qa, "b": qa}), default_store=store, batch_size=4
    )
    producer.send("a", 1)
    producer.send("b", 2)
    producer.send("b", 3)
    with pytest.raises(BatchSendError) as info:
        producer.flush()
    assert sorted((f.topic, f.send_index, f.obj) for f in info.value.failures) == [
        ("a", 0, 1),
        ("b", 0, 2),
        ("b", 1, 3),
    ]
    assert "topic 'a': sends [0]" in str(info.value)
    assert isinstance(info.value.__cause__, BackendFullError)
    producer.flush()  # reported once: the failed batches were dropped


def test_close_topics_still_ends_the_topic_after_a_failed_flush() -> None:
    q: queue.Queue[Any] = queue.Queue()
    store = Store(f"s-{uuid.uuid4().hex[:8]}", FullAfter(0))
    producer: StreamProducer[int] = StreamProducer(
        QueuePublisher({"t": q}), default_store=store, batch_size=4
    )
    result = producer.send("t", 1)
    with pytest.raises(BatchSendError):
        producer.close_topics("t")
    assert isinstance(result.exception(), BackendFullError)
    assert _consume(q) == []  # the end-of-stream arrived: the consumer ends


def test_failed_aggregate_fails_every_buffered_send() -> None:
    q: queue.Queue[Any] = queue.Queue()

    def broken(objs: list[int]) -> int:
        raise RuntimeError("cannot aggregate")

    producer: StreamProducer[int] = StreamProducer(
        QueuePublisher({"t": q}), batch_size=2, aggregator=broken
    )
    first = producer.send("t", 1)
    with pytest.raises(BatchSendError) as info:
        producer.send("t", 2)
    assert [f.send_index for f in info.value.failures] == [0, 1]
    assert isinstance(first.exception(), RuntimeError)
    result = producer.send("t", 3)
    assert not result.done()


def test_results_waited_for_by_several_threads() -> None:
    q: queue.Queue[Any] = queue.Queue()
    producer: StreamProducer[Any] = StreamProducer(QueuePublisher({"t": q}), batch_size=8)
    failures: list[BaseException] = []

    def work(index: int) -> None:
        for i in range(100):
            try:
                producer.send("t", (index, i)).result(timeout=10)
            except BaseException as exc:  # reported below
                failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    producer.close(topics=["t"])
    assert not failures
    assert sorted(_consume(q)) == sorted((n, i) for n in range(4) for i in range(100))
