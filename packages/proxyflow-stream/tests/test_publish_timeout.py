"""A publish that times out may have reached the broker: its objects stay, reported as such."""

from __future__ import annotations

import asyncio
import queue
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from proxyflow.api import BackendTimeoutError, BackendUnavailableError
from proxyflow.connectors.local import LocalConnector
from proxyflow.shims.queue import AsyncQueuePublisher, QueuePublisher
from proxyflow.store import Store
from proxyflow.stream import (
    AsyncStreamProducer,
    BatchSendError,
    SendTimeoutError,
    StreamProducer,
)


class FlakyPublisher:
    """A queue publisher whose sends raise ``error`` while it is set (nothing is published)."""

    def __init__(self) -> None:
        self.q: queue.Queue[Any] = queue.Queue()
        self.inner = QueuePublisher({"t": self.q})
        self.error: BaseException | None = None

    def send_message(self, topic: str, message: Any) -> None:
        if self.error is not None:
            raise self.error
        self.inner.send_message(topic, message)

    def close(self) -> None:
        self.inner.close()


class AsyncFlakyPublisher:
    """The asyncio form of `FlakyPublisher`."""

    def __init__(self) -> None:
        self.q: asyncio.Queue[Any] = asyncio.Queue()
        self.inner = AsyncQueuePublisher({"t": self.q})
        self.error: BaseException | None = None

    async def send_message(self, topic: str, message: Any) -> None:
        if self.error is not None:
            raise self.error
        await self.inner.send_message(topic, message)

    async def close(self) -> None:
        await self.inner.close()


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store(f"timeout-{uuid.uuid4().hex[:8]}", LocalConnector())
    yield s
    s.close()


def stored(store: Store) -> int:
    return int(store.connector.stats()["objects"])  # type: ignore[attr-defined]


@pytest.mark.parametrize("aggregate", [False, True])
def test_a_timed_out_batch_is_kept_and_reported_maybe_published(
    store: Store, aggregate: bool
) -> None:
    publisher = FlakyPublisher()
    producer: StreamProducer[Any] = StreamProducer(
        publisher,
        default_store=store,
        batch_size=3,
        aggregator=list if aggregate else None,
    )
    publisher.error = BackendTimeoutError("no answer from the broker (test)")
    producer.send("t", "a")
    producer.send("t", "b", metadata={"m": 1})
    with pytest.raises(BatchSendError) as caught:
        producer.send("t", "c")  # fills the batch: flushed here
    failures = caught.value.failures
    assert [f.obj for f in failures] == ["a", "b", "c"]
    assert all(f.maybe_published for f in failures)
    assert isinstance(caught.value.__cause__, TimeoutError)
    keys = {f.key for f in failures}
    assert None not in keys
    assert len(keys) == (1 if aggregate else 3)
    assert stored(store) == len(keys)  # not evicted: the broker may have the event
    assert all(store.exists(k) for k in keys)
    if not aggregate:
        assert [store.get(f.key) for f in failures] == ["a", "b", "c"]
    publisher.error = None
    producer.close(topics=["t"], stores=False)


def test_other_publish_errors_still_evict(store: Store) -> None:
    publisher = FlakyPublisher()
    producer: StreamProducer[Any] = StreamProducer(publisher, default_store=store, batch_size=2)
    publisher.error = BackendUnavailableError("broker gone (test)")
    producer.send("t", "a")
    with pytest.raises(BatchSendError) as caught:
        producer.send("t", "b")
    assert [(f.key, f.maybe_published) for f in caught.value.failures] == [
        (None, False),
        (None, False),
    ]
    assert stored(store) == 0
    publisher.error = None
    producer.close(topics=["t"], stores=False)


def test_an_unbatched_send_that_times_out_leaves_its_object(store: Store) -> None:
    publisher = FlakyPublisher()
    producer: StreamProducer[Any] = StreamProducer(publisher, default_store=store)
    cause = BackendTimeoutError("no answer from the broker (test)")
    publisher.error = cause
    with pytest.raises(SendTimeoutError) as caught:
        producer.send("t", "a", metadata={"n": 1})
    assert isinstance(caught.value, BackendTimeoutError)  # what callers caught before
    assert isinstance(caught.value, TimeoutError)
    assert caught.value.__cause__ is cause
    failure = caught.value.failure
    assert (failure.topic, failure.send_index, failure.obj) == ("t", 0, "a")
    assert (failure.metadata, failure.error, failure.maybe_published) == ({"n": 1}, cause, True)
    assert store.get(failure.key) == "a"  # the key names the object left behind
    assert repr(failure.key) in str(caught.value)
    assert stored(store) == 1
    publisher.error = BackendUnavailableError("broker gone (test)")
    with pytest.raises(BackendUnavailableError):
        producer.send("t", "b")
    assert stored(store) == 1  # only the one that may have been published
    publisher.error = None
    producer.close(topics=["t"], stores=False)


def test_an_unbatched_timeout_that_left_nothing_is_raised_as_it_is(store: Store) -> None:
    publisher = FlakyPublisher()
    inline: StreamProducer[Any] = StreamProducer(publisher)  # nothing stored, nothing kept
    publisher.error = BackendTimeoutError("no answer (test)")
    with pytest.raises(BackendTimeoutError) as caught:
        inline.send("t", "a")
    assert not isinstance(caught.value, SendTimeoutError)
    publisher.error = None
    inline.send("t", "b")  # a later success has no stale key to report
    inline.close(topics=["t"])


def test_the_send_index_of_an_unbatched_timeout_counts_accepted_sends(store: Store) -> None:
    publisher = FlakyPublisher()
    producer: StreamProducer[Any] = StreamProducer(publisher, default_store=store)
    producer.send("t", "a")
    producer.send("t", "b")
    publisher.error = BackendTimeoutError("no answer (test)")
    with pytest.raises(SendTimeoutError) as caught:
        producer.send("t", "c")
    assert caught.value.failure.send_index == 2
    publisher.error = BackendUnavailableError("broker gone (test)")
    with pytest.raises(BackendUnavailableError) as other:
        producer.send("t", "d")
    assert not isinstance(other.value, SendTimeoutError)  # the kept key was reported once
    publisher.error = None
    producer.close(topics=["t"], stores=False)


def test_a_later_failed_batch_does_not_report_stale_keys(store: Store) -> None:
    publisher = FlakyPublisher()
    producer: StreamProducer[Any] = StreamProducer(publisher, default_store=store, batch_size=2)
    publisher.error = BackendTimeoutError("no answer (test)")
    producer.send("t", "a")
    with pytest.raises(BatchSendError):
        producer.send("t", "b")
    publisher.error = BackendUnavailableError("broker gone (test)")
    producer.send("t", "c")
    with pytest.raises(BatchSendError) as caught:
        producer.send("t", "d")
    assert all(not f.maybe_published and f.key is None for f in caught.value.failures)
    assert stored(store) == 2  # "a" and "b" only
    publisher.error = None
    producer.close(topics=["t"], stores=False)


@pytest.mark.parametrize("batch_size", [1, 2])
def test_asyncio_producer_keeps_timed_out_objects(store: Store, batch_size: int) -> None:
    async def body() -> None:
        publisher = AsyncFlakyPublisher()
        producer: AsyncStreamProducer[Any] = AsyncStreamProducer(
            publisher, default_store=store, batch_size=batch_size
        )
        publisher.error = BackendTimeoutError("no answer (test)")
        if batch_size == 1:
            with pytest.raises(SendTimeoutError) as timed_out:
                await producer.send("t", "a")
            assert timed_out.value.failure.maybe_published
            assert store.get(timed_out.value.failure.key) == "a"
            assert stored(store) == 1
        else:
            await producer.send("t", "a")
            with pytest.raises(BatchSendError) as caught:
                await producer.send("t", "b")
            failures = caught.value.failures
            assert all(f.maybe_published for f in failures)
            assert [store.get(f.key) for f in failures] == ["a", "b"]
            assert stored(store) == 2
        publisher.error = BackendUnavailableError("broker gone (test)")
        if batch_size == 2:
            await producer.send("t", "c")
        with pytest.raises((BackendUnavailableError, BatchSendError)):
            await producer.send("t", "d")
        assert stored(store) == batch_size  # the connection error evicted its objects
        publisher.error = None
        await producer.close(topics=["t"], stores=False)

    asyncio.run(asyncio.wait_for(body(), 30))
