"""The asyncio stream on real Redis: signed events, trusted locations, work-sharing end.

`AsyncStreamProducer` and `AsyncStreamConsumer` over the asyncio Redis list
shim, with objects in a directory or in Redis: a stream signed with a shared
key is read (the signature alone makes its location trusted); forged and
unsigned events are rejected, or skipped and counted; an event naming a
location nobody trusts is refused before anything is opened; and three
asyncio producers with two asyncio consumers of one list, all with default
arguments, deliver every object exactly once and every consumer ends, by the
roster of the list.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("redis")

from pfit.attacks import Marker, forget_trust_settings

from proxyflow.connectors.file import FileConnector
from proxyflow.connectors.redis import RedisConnector
from proxyflow.proxy import ProxyResolveError, get_factory
from proxyflow.shims.redis import AsyncRedisQueuePublisher, AsyncRedisQueueSubscriber
from proxyflow.store import ContentDigestError, Store, StoreConfig
from proxyflow.stream import (
    AsyncStreamConsumer,
    AsyncStreamProducer,
    ForgedEventError,
    StreamConsumer,
    TamperedObjectError,
    UnsignedEventError,
    UntrustedLocationError,
)
from proxyflow.stream.events import (
    EndOfStreamEvent,
    NewObjectKeyEvent,
    encode_event,
    encode_store_config,
)

KEY = "async-shared-signing-key-0123456789"
OTHER_KEY = "someone-elses-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def _no_trust_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    forget_trust_settings(monkeypatch)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def new_topic() -> str:
    return f"aparity-{uuid.uuid4().hex[:10]}"


async def produce(
    url: str, topic: str, store: Store | None, objs: Sequence[Any], **options: Any
) -> None:
    publisher = await AsyncRedisQueuePublisher(url).open()
    async with AsyncStreamProducer(publisher, default_store=store, **options) as producer:
        for obj in objs:
            await producer.send(topic, obj)
        await producer.close_topics(topic)


async def consumer(url: str, topic: str, **options: Any) -> AsyncStreamConsumer[Any]:
    options.setdefault("signing_key", KEY)
    options.setdefault("trusted_locations", [])  # only a signature makes a location trusted
    options.setdefault("timeout", 10)
    subscriber = await AsyncRedisQueueSubscriber(url, [topic]).open()
    return AsyncStreamConsumer(subscriber, **options)


@pytest.mark.parametrize("batch_size", [1, 3])
def test_signed_async_stream_from_a_directory_redis_and_inline(
    redis_url: str, tmp_path: Path, batch_size: int
) -> None:
    objs = [{"i": i} for i in range(5)] + [b"x" * 300_000]
    stores = [
        Store("asigned-file", FileConnector(tmp_path / "objects")),
        Store("asigned-redis", RedisConnector(redis_url, prefix=f"{uuid.uuid4().hex}:")),
        None,
    ]

    async def body() -> None:
        for store in stores:
            topic = new_topic()
            await produce(redis_url, topic, store, objs, signing_key=KEY, batch_size=batch_size)
            async with await consumer(redis_url, topic) as reader:
                assert [obj async for obj in reader.iter_objects()] == objs
                assert reader.stats.untrusted == 0

    run(body())


def test_a_synchronous_consumer_reads_a_signed_async_stream(redis_url: str, tmp_path: Path) -> None:
    from proxyflow.shims.redis import RedisQueueSubscriber

    topic = new_topic()
    store = Store("asigned-sync", FileConnector(tmp_path / "objects"))
    run(produce(redis_url, topic, store, ["a", "b"], signing_key=KEY, batch_size=2))
    subscriber = RedisQueueSubscriber(redis_url, [topic])
    with StreamConsumer(subscriber, timeout=10, signing_key=KEY, trusted_locations=[]) as reader:
        assert list(reader.iter_objects()) == ["a", "b"]


def test_forged_and_unsigned_events_are_rejected(redis_url: str, tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    evil_dir = tmp_path / "evil"

    async def body() -> None:
        topic = new_topic()
        await produce(redis_url, topic, None, ["unsigned"])
        async with await consumer(redis_url, topic) as reader:
            with pytest.raises(UnsignedEventError):
                await reader.next()

        topic = new_topic()
        await produce(redis_url, topic, None, ["elsewhere"], signing_key=OTHER_KEY)
        async with await consumer(redis_url, topic) as reader:
            with pytest.raises(ForgedEventError):
                await reader.next()

        topic = new_topic()
        with Store("aevil", FileConnector(evil_dir)) as evil:
            key, digest = evil.put_digested(Marker(marker))
        config = encode_store_config(StoreConfig("x", "file", {"store_dir": str(evil_dir)}))
        forged = NewObjectKeyEvent(b"attacker", topic, 0, config, key, False, {}, digest)
        async with await AsyncRedisQueuePublisher(redis_url).open() as publisher:
            await publisher.send_message(topic, encode_event(forged, signing_key=OTHER_KEY))
            await publisher.send_message(topic, encode_event(forged))
            await publisher.send_message(
                topic, encode_event(EndOfStreamEvent(b"attacker", topic, 1))
            )
        await produce(redis_url, topic, None, ["genuine"], signing_key=KEY)
        async with await consumer(redis_url, topic, on_decode_error="skip") as reader:
            assert [obj async for obj in reader.iter_objects()] == ["genuine"]
            assert reader.stats.untrusted == 3

    run(body())
    assert not marker.exists()


def test_an_untrusted_location_is_refused(redis_url: str, tmp_path: Path) -> None:
    untrusted = tmp_path / "untrusted"

    async def body() -> None:
        topic = new_topic()
        config = encode_store_config(StoreConfig("x", "file", {"store_dir": str(untrusted)}))
        event = NewObjectKeyEvent(b"elsewhere", topic, 0, config, "0123456789abcdef0", True)
        async with await AsyncRedisQueuePublisher(redis_url).open() as publisher:
            await publisher.send_message(topic, encode_event(event))
        async with await consumer(redis_url, topic, signing_key=None) as reader:
            with pytest.raises(UntrustedLocationError, match="does not trust"):
                await reader.next()

    run(body())
    assert not untrusted.exists()


def tamper_all(directory: Path, marker: Path) -> None:
    """Replace every stored file with a pickle that runs code, as a storage writer could."""
    with Store("aattacker-view", FileConnector(directory / "attacker")) as view:
        evil = view.put(Marker(marker))
        data = view.connector.get(evil)
        view.connector.evict(evil)
    stored = [path for path in directory.iterdir() if path.is_file()]
    assert len(stored) == 2
    for path in stored:
        path.write_bytes(data)


def test_a_tampered_object_is_not_deserialized(redis_url: str, tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    directory = tmp_path / "objects"
    store = Store("atamper", FileConnector(directory))

    async def body() -> None:
        topic = new_topic()
        await produce(redis_url, topic, store, ["first", "second"], signing_key=KEY)
        tamper_all(directory, marker)
        async with await consumer(redis_url, topic) as reader:
            proxy = await reader.next()  # the proxy carries the digest of the signed bytes
            with pytest.raises(ProxyResolveError) as caught:
                str(proxy)
            assert isinstance(caught.value.__cause__, ContentDigestError)
            with pytest.raises(TamperedObjectError):
                await reader.next_object()
            assert [obj async for obj in reader] == []  # and the stream ends

    run(body())
    assert not marker.exists()


def test_signed_async_stream_with_acknowledgements(redis_url: str, tmp_path: Path) -> None:
    from proxyflow.shims.redis import AsyncRedisStreamPublisher, AsyncRedisStreamSubscriber

    prefix = f"aparity-{uuid.uuid4().hex[:8]}:"
    store = Store("asigned-acks", FileConnector(tmp_path / "objects"))

    async def body() -> None:
        publisher = await AsyncRedisStreamPublisher(redis_url, prefix=prefix).open()
        async with AsyncStreamProducer(publisher, default_store=store, signing_key=KEY) as p:
            for i in range(3):
                await p.send("t", {"i": i})
            await p.close(topics=["t"], stores=False)
        subscriber = await AsyncRedisStreamSubscriber(
            redis_url, ["t"], group="readers", prefix=prefix
        ).open()
        reader: AsyncStreamConsumer[Any] = AsyncStreamConsumer(
            subscriber, timeout=10, ack="manual", signing_key=KEY, trusted_locations=[]
        )
        async with reader:
            values = []
            async for proxy in reader:  # manual acks: the proxy carries the digest too
                assert getattr(get_factory(proxy), "digest", None) is not None
                values.append(dict(proxy))
                await reader.ack(proxy)
            assert values == [{"i": 0}, {"i": 1}, {"i": 2}]
            assert reader.stats.untrusted == 0

    run(body())


PRODUCERS, CONSUMERS, COUNT = 3, 2, 30


def test_three_async_producers_two_async_consumers_default_arguments(redis_url: str) -> None:
    topic = new_topic()

    async def share_producer(p: int, started: asyncio.Barrier) -> None:
        publisher = await AsyncRedisQueuePublisher(redis_url).open()
        async with AsyncStreamProducer(publisher) as producer:
            await started.wait()
            for i in range(COUNT):
                await producer.send(topic, (p, i))
            await producer.close_topics(topic)

    async def share_consumer() -> list[Any]:
        subscriber = await AsyncRedisQueueSubscriber(redis_url, [topic]).open()
        async with AsyncStreamConsumer(subscriber) as reader:  # default arguments
            return [tuple(obj) async for obj in reader]

    async def body() -> None:
        started = asyncio.Barrier(PRODUCERS)
        readers = [asyncio.ensure_future(share_consumer()) for _ in range(CONSUMERS)]
        await asyncio.gather(*(share_producer(p, started) for p in range(PRODUCERS)))
        shares = await asyncio.gather(*readers)  # every consumer ends
        everything = sorted(obj for share in shares for obj in share)
        assert everything == sorted((p, i) for p in range(PRODUCERS) for i in range(COUNT))

    run(body())
