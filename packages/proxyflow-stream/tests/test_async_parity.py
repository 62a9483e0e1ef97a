"""The asyncio stream keeps the synchronous stream's promises: signed events, trust, honest sends.

Each test runs an `AsyncStreamProducer` and an `AsyncStreamConsumer` over the
asyncio queue shim (in-process) and checks one behaviour the synchronous
classes have: signed events and their rejections, trusted locations, the
`SendResult` / `BatchSendError` of every send, and the end of a work-sharing
topic by its roster with default arguments.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

import pytest
from pfs_connectors import FullAfter

from proxyflow.api import BackendFullError
from proxyflow.connectors.file import FileConnector
from proxyflow.connectors.local import LocalConnector
from proxyflow.proxy import Proxy, get_factory
from proxyflow.serialize import SerializationError
from proxyflow.shims.queue import AsyncQueuePublisher, AsyncQueueSubscriber
from proxyflow.store import Store, StoreConfig
from proxyflow.stream import (
    AsyncStreamConsumer,
    AsyncStreamProducer,
    BatchSendError,
    ForgedEventError,
    SendPendingError,
    SendResult,
    StreamObjectMissingError,
    UnsignedEventError,
    UntrustedLocationError,
)
from proxyflow.stream._decode import SIGNED_HEAD
from proxyflow.stream.events import NewObjectKeyEvent, encode_event, encode_store_config

KEY = "async-parity-signing-key-0123456789"
OTHER_KEY = "someone-elses-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROXYFLOW_SIGNING_KEY", raising=False)
    monkeypatch.delenv("PROXYFLOW_TRUSTED_LOCATIONS", raising=False)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


def producer_of(q: asyncio.Queue[Any], store: Store | None, **options: Any) -> Any:
    return AsyncStreamProducer(AsyncQueuePublisher({"t": q}), default_store=store, **options)


def consumer_of(q: asyncio.Queue[Any], **options: Any) -> AsyncStreamConsumer[Any]:
    options.setdefault("timeout", 5)
    return AsyncStreamConsumer(AsyncQueueSubscriber(q, topics=["t"]), **options)


async def send_all(producer: Any, objs: Sequence[Any]) -> None:
    async with producer:
        for obj in objs:
            await producer.send("t", obj)
        await producer.close_topics("t")


# -- signed events ---------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 3])
@pytest.mark.parametrize("inline", [False, True])
def test_signed_async_stream_round_trip(tmp_path: Path, batch_size: int, inline: bool) -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        store = None if inline else Store(f"s-{uuid.uuid4().hex[:8]}", FileConnector(tmp_path))
        objs = [f"object {i}" for i in range(7)]
        await send_all(producer_of(q, store, signing_key=KEY, batch_size=batch_size), objs)
        messages = list(q._queue)  # type: ignore[attr-defined]
        assert messages
        assert all(bytes(m).startswith(SIGNED_HEAD) for m in messages)
        # Only the signature makes the directory trusted (no trusted location).
        async with consumer_of(q, signing_key=KEY, trusted_locations=[]) as consumer:
            assert [obj async for obj in consumer.iter_objects()] == objs
            assert consumer.stats.untrusted == 0

    run(body())


def test_signed_proxies_carry_their_digest(tmp_path: Path) -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        store = Store(f"s-{uuid.uuid4().hex[:8]}", FileConnector(tmp_path))
        await send_all(producer_of(q, store, signing_key=KEY), ["a"])
        async with consumer_of(q, signing_key=KEY) as consumer:
            proxy = await consumer.next()
            assert isinstance(proxy, Proxy)
            assert getattr(get_factory(proxy), "digest", None) is not None
            assert proxy == "a"

    run(body())


def test_events_signed_with_another_key_are_forged() -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        await send_all(producer_of(q, None, signing_key=OTHER_KEY), ["x"])
        async with consumer_of(q, signing_key=KEY) as consumer:
            with pytest.raises(ForgedEventError, match="MAC"):
                await consumer.next()

    run(body())


def test_unsigned_events_are_rejected_and_skipped_with_a_count() -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        await send_all(producer_of(q, None), ["unsigned"])
        async with consumer_of(q, signing_key=KEY) as consumer:
            with pytest.raises(UnsignedEventError, match="signing_key"):
                await consumer.next()
        q2: asyncio.Queue[Any] = asyncio.Queue()
        await send_all(producer_of(q2, None), ["intruder"])  # object and end: unsigned
        await send_all(producer_of(q2, None, signing_key=KEY), ["genuine"])
        async with consumer_of(q2, signing_key=KEY, on_decode_error="skip") as consumer:
            assert [obj async for obj in consumer] == ["genuine"]
            assert consumer.stats.untrusted == 2

    run(body())


def test_bad_signing_key_is_refused_by_both_async_classes() -> None:
    q: asyncio.Queue[Any] = asyncio.Queue()
    with pytest.raises(ValueError, match="at least 16 bytes"):
        producer_of(q, None, signing_key="short")
    with pytest.raises(ValueError, match="at least 16 bytes"):
        consumer_of(q, signing_key="short")


# -- trusted locations -----------------------------------------------------------------------


def foreign_event(directory: Path) -> bytes:
    config = encode_store_config(StoreConfig("elsewhere", "file", {"store_dir": str(directory)}))
    return encode_event(NewObjectKeyEvent(b"evil", "t", 0, config, "0123456789abcdef0", True))


def test_untrusted_location_is_refused_before_anything_is_opened(tmp_path: Path) -> None:
    async def body() -> None:
        untrusted = tmp_path / "untrusted"
        q: asyncio.Queue[Any] = asyncio.Queue()
        q.put_nowait(foreign_event(untrusted))
        async with consumer_of(q) as consumer:
            with pytest.raises(UntrustedLocationError, match="does not trust"):
                await consumer.next()
        q.put_nowait(foreign_event(untrusted))
        store = Store(f"mine-{uuid.uuid4().hex[:8]}", FileConnector(tmp_path / "mine"))
        await send_all(producer_of(q, store), ["genuine"])  # a location written here is trusted
        async with consumer_of(q, on_decode_error="skip") as consumer:
            assert [obj async for obj in consumer.iter_objects()] == ["genuine"]
            assert consumer.stats.untrusted == 1
        assert not untrusted.exists()

    run(body())


def test_trusted_locations_argument_admits_a_location(tmp_path: Path) -> None:
    async def body() -> None:
        listed = tmp_path / "listed"
        q: asyncio.Queue[Any] = asyncio.Queue()
        q.put_nowait(foreign_event(listed / "run-1"))
        async with consumer_of(q, trusted_locations=[f"file:{listed}"]) as consumer:
            with pytest.raises(StreamObjectMissingError):  # admitted, opened: the key is empty
                await consumer.next_object()

    run(body())


# -- honest sends ----------------------------------------------------------------------------


def test_async_sends_return_send_results() -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        async with producer_of(q, None) as producer:
            result = await producer.send("t", 1)
            assert isinstance(result, SendResult)
            assert result.done()
            assert result.exception() is None
        async with producer_of(q, None, batch_size=3) as batching:
            pending = await batching.send("t", 2)
            assert not pending.done()
            with pytest.raises(SendPendingError, match="flush_topic"):
                pending.result()
            await batching.flush_topic("t")
            assert pending.done()
            assert pending.exception() is None
            assert (await batching.send("t", 3, metadata={"k": 1})).done() is False
            third = await batching.send("t", 4)
            fourth = await batching.send("t", 5)  # fills the batch: flushed by this send
            assert third.done()
            assert fourth.done()
            assert fourth.exception() is None

    run(body())


@pytest.mark.parametrize("inline", [False, True])
def test_unserializable_object_fails_alone_at_its_own_send(inline: bool) -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        store = None if inline else Store(f"s-{uuid.uuid4().hex[:8]}", LocalConnector())
        overrides = {} if store is None else {store.name: store}
        producer = producer_of(q, store, batch_size=4)
        for obj in (0, 1, lambda: 2, 3, 4):
            if callable(obj):
                with pytest.raises(SerializationError):
                    await producer.send("t", obj)
            else:
                await producer.send("t", obj)
        await producer.close(topics=["t"], stores=False)
        async with consumer_of(q, store_overrides=overrides) as consumer:
            assert [obj async for obj in consumer.iter_objects()] == [0, 1, 3, 4]

    run(body())


@pytest.mark.parametrize("room", [0, 4, 6])
def test_full_store_reports_exactly_the_lost_objects(room: int) -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        connector = FullAfter(room)
        store = Store(f"s-{uuid.uuid4().hex[:8]}", connector)
        producer = producer_of(q, store, batch_size=4)
        results: dict[int, SendResult] = {}
        errors: dict[int, BatchSendError] = {}
        for i in range(10):
            try:
                results[i] = await producer.send("t", i)
            except BatchSendError as exc:
                errors[i] = exc
        for i, error in errors.items():  # the send that filled a failed batch names itself
            assert i in {f.obj for f in error.failures}
        causes = [f.error for error in errors.values() for f in error.failures]
        assert all(isinstance(cause, BackendFullError) for cause in causes)
        reported = {f.send_index for error in errors.values() for f in error.failures}
        with pytest.raises(BatchSendError) as closing:  # the last partial batch (8, 9)
            await producer.close(topics=["t"], stores=False)
        reported |= {f.send_index for f in closing.value.failures}
        ok = [i for i, r in results.items() if r.exception() is None]
        assert reported == set(range(10)) - set(ok)
        assert len(ok) == room - room % 4  # whole batches only
        async with consumer_of(q, store_overrides={store.name: store}) as consumer:
            assert [obj async for obj in consumer.iter_objects()] == ok  # and the end arrived
        assert connector.stats()["objects"] == 0  # consumed, and no orphan of a failed batch

    run(body())


def test_flush_names_the_failures_of_every_topic() -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        store = Store(f"s-{uuid.uuid4().hex[:8]}", FullAfter(0))
        publisher = AsyncQueuePublisher({"a": q, "b": q})
        async with AsyncStreamProducer(publisher, default_store=store, batch_size=5) as producer:
            for topic in ("a", "b"):
                await producer.send(topic, topic)
            with pytest.raises(BatchSendError) as caught:
                await producer.flush()
            assert sorted((f.topic, f.send_index) for f in caught.value.failures) == [
                ("a", 0),
                ("b", 0),
            ]
            assert isinstance(caught.value.__cause__, BackendFullError)
        assert q.empty()  # nothing was announced

    run(body())


# -- end of a work-sharing topic by its roster -----------------------------------------------

PRODUCERS, CONSUMERS, COUNT = 3, 2, 20


def test_async_work_sharing_consumers_all_end_by_the_roster() -> None:
    async def produce(q: asyncio.Queue[Any], p: int) -> None:
        async with AsyncStreamProducer(AsyncQueuePublisher({"t": q})) as producer:
            for i in range(COUNT):
                await producer.send("t", (p, i))
                await asyncio.sleep(0)  # let the other producers and the consumers run
            await producer.close_topics("t")

    async def consume(q: asyncio.Queue[Any]) -> list[Any]:
        # Default arguments: no timeout, one producer expected per topic.
        async with AsyncStreamConsumer(AsyncQueueSubscriber(q, topics=["t"])) as consumer:
            return [tuple(obj) async for obj in consumer]

    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        readers = [asyncio.ensure_future(consume(q)) for _ in range(CONSUMERS)]
        await asyncio.gather(*(produce(q, p) for p in range(PRODUCERS)))
        shares = await asyncio.gather(*readers)  # every consumer ends
        everything = sorted(obj for share in shares for obj in share)
        assert everything == sorted((p, i) for p in range(PRODUCERS) for i in range(COUNT))

    run(body())


def test_an_idle_work_sharing_consumer_times_out_naming_the_roster() -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        publisher = AsyncQueuePublisher({"t": q})
        await publisher.join("t", b"still-here")
        async with consumer_of(q, timeout=0.2) as consumer:
            with pytest.raises(TimeoutError, match="roster: 1 joined, 0 left"):
                await consumer.next()

    run(body())
