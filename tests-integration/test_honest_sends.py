"""Honest sends: what `send()`, its `SendResult` and `flush()` report is what consumers get.

With batching, a bad object, a full disk (a real ``ENOSPC`` on a tiny tmpfs) or
a Redis store at its ``maxmemory`` must never take other objects down silently:
every object whose ``send()`` returned and whose result reported success is
delivered, every other one was reported (by its own ``send()``, or by the
``BatchSendError`` of the call that flushed it), and nothing is left behind in
the store.
"""

from __future__ import annotations

import json
import os
import textwrap
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from proxyflow.api import BackendFullError
from proxyflow.connectors.file import FileConnector
from proxyflow.connectors.redis import RedisConnector
from proxyflow.serialize import SerializationError
from proxyflow.shims.redis import RedisQueuePublisher, RedisQueueSubscriber
from proxyflow.store import Store
from proxyflow.stream import BatchSendError, SendResult, StreamConsumer, StreamProducer
from proxyflow.testing.redis_server import RedisServer, RedisServerUnavailableError
from proxyflow.testing.tiny_fs import TinyFilesystemUnavailableError, run_with_tiny_filesystem


@pytest.fixture
def private_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        server.start()
    except RedisServerUnavailableError as exc:
        pytest.skip(f"no redis-server: {exc}")
    yield server
    server.stop()


class Outcomes:
    """What the producer was told about each object, by index."""

    def __init__(self) -> None:
        self.results: dict[int, SendResult] = {}
        self.reported: dict[int, BaseException] = {}

    def send(self, producer: StreamProducer[Any], topic: str, index: int, obj: Any) -> None:
        try:
            self.results[index] = producer.send(topic, obj, metadata={"index": index})
        except BatchSendError as exc:
            self.record(exc)
        except SerializationError as exc:
            self.reported[index] = exc

    def record(self, error: BatchSendError) -> None:
        for failure in error.failures:
            self.reported[failure.metadata["index"]] = failure.error

    def succeeded(self) -> list[int]:
        return sorted(i for i, r in self.results.items() if r.exception(timeout=10) is None)


def consume(redis_url: str, topic: str) -> list[int]:
    subscriber = RedisQueueSubscriber(redis_url, topic)
    with StreamConsumer(subscriber, timeout=30) as consumer:
        return [metadata["index"] for metadata, _ in consumer.iter_objects_with_metadata()]


@pytest.mark.parametrize("position", range(4))
def test_a_bad_object_at_every_batch_position_fails_alone(
    redis_url: str, tmp_path: Path, position: int
) -> None:
    topic = f"honest-bad-{uuid.uuid4().hex[:8]}"
    store = Store(f"honest-{uuid.uuid4().hex[:8]}", FileConnector(tmp_path / "objects"))
    outcomes = Outcomes()
    with StreamProducer(
        RedisQueuePublisher(redis_url), default_store=store, batch_size=4
    ) as producer:
        for index in range(12):
            obj: Any = threading.Lock() if index % 4 == position else f"object {index}"
            outcomes.send(producer, topic, index, obj)
        producer.close_topics(topic)
    bad = {i for i in range(12) if i % 4 == position}
    assert set(outcomes.reported) == bad  # each bad object, at its own send()
    assert all(isinstance(e, SerializationError) for e in outcomes.reported.values())
    assert outcomes.succeeded() == sorted(set(range(12)) - bad)
    assert consume(redis_url, topic) == outcomes.succeeded()
    assert os.listdir(tmp_path / "objects") == []  # every object read and evicted, no orphan


def test_redis_store_at_maxmemory_reports_every_lost_object(
    redis_url: str, private_server: RedisServer
) -> None:
    admin = redis.Redis.from_url(private_server.url)
    used = int(admin.info("memory")["used_memory"])
    admin.config_set("maxmemory", used + 1024 * 1024)  # room for about 30 objects of 32 KiB
    admin.config_set("maxmemory-policy", "noeviction")
    topic = f"honest-oom-{uuid.uuid4().hex[:8]}"
    store = Store(f"honest-{uuid.uuid4().hex[:8]}", RedisConnector(private_server.url))
    outcomes = Outcomes()
    producer: StreamProducer[Any] = StreamProducer(
        RedisQueuePublisher(redis_url), default_store=store, batch_size=8
    )
    for index in range(120):
        outcomes.send(producer, topic, index, index.to_bytes(4, "big") + bytes(32 * 1024))
    try:
        producer.close(topics=[topic], stores=False)
    except BatchSendError as exc:
        outcomes.record(exc)
    ok = outcomes.succeeded()
    assert outcomes.reported, "the store must have filled up"
    assert all(isinstance(e, BackendFullError) for e in outcomes.reported.values())
    assert sorted([*ok, *outcomes.reported]) == list(range(120))  # each told one way
    assert 0 < len(ok) < 120
    assert consume(redis_url, topic) == ok
    assert admin.dbsize() == 0  # delivered objects were evicted; failed batches left nothing
    store.close()


def test_unbatched_send_into_a_full_redis_raises_a_typed_error(
    redis_url: str, private_server: RedisServer
) -> None:
    admin = redis.Redis.from_url(private_server.url)
    admin.config_set("maxmemory", int(admin.info("memory")["used_memory"]) + 256 * 1024)
    store = Store(f"honest-{uuid.uuid4().hex[:8]}", RedisConnector(private_server.url))
    topic = f"honest-oom1-{uuid.uuid4().hex[:8]}"
    producer: StreamProducer[bytes] = StreamProducer(
        RedisQueuePublisher(redis_url), default_store=store
    )
    sent = 0
    refused: BaseException | None = None
    for _ in range(100):
        try:
            producer.send(topic, bytes(32 * 1024), metadata={"index": sent})
        except BackendFullError as exc:
            refused = exc
            break
        sent += 1
    assert refused is not None, "the store must have filled up"
    assert "maxmemory" in str(refused)
    producer.close(topics=[topic], stores=False)
    assert consume(redis_url, topic) == list(range(sent))
    store.close()


_ENOSPC_SCRIPT = textwrap.dedent(
    """
    import json, os, queue
    from proxyflow.connectors.file import FileConnector
    from proxyflow.shims.queue import QueuePublisher, QueueSubscriber
    from proxyflow.store import Store
    from proxyflow.api import BackendFullError
    from proxyflow.stream import BatchSendError, StreamConsumer, StreamProducer

    directory = os.path.join(os.environ["PROXYFLOW_TINY_FS"], "objects")
    store = Store("tiny", FileConnector(directory))
    q = queue.Queue()
    producer = StreamProducer(QueuePublisher({"t": q}), default_store=store, batch_size=4)
    results, reported = {}, set()
    for index in range(60):
        try:
            results[index] = producer.send(
                "t", bytes(16 * 1024), metadata={"index": index}
            )
        except BatchSendError as exc:
            reported |= {f.metadata["index"] for f in exc.failures}
            typed = all(isinstance(f.error, BackendFullError) for f in exc.failures)
    try:
        producer.close(topics=["t"], stores=False)
    except BatchSendError as exc:
        reported |= {f.metadata["index"] for f in exc.failures}
    ok = sorted(i for i, r in results.items() if r.exception() is None)
    with StreamConsumer(QueueSubscriber(q, topics=["t"]), timeout=10) as consumer:
        got = [m["index"] for m, _ in consumer.iter_objects_with_metadata()]
    print(json.dumps({"ok": ok, "reported": sorted(reported), "got": got,
                      "typed": typed, "left": os.listdir(directory)}))
    """
)


def test_a_full_disk_reports_every_lost_object() -> None:
    try:
        run = run_with_tiny_filesystem(_ENOSPC_SCRIPT, size=512 * 1024)
    except TinyFilesystemUnavailableError as exc:
        pytest.skip(str(exc))
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["reported"], "the disk must have filled up"
    assert result["typed"], "ENOSPC must surface as BackendFullError"
    assert sorted(result["ok"] + result["reported"]) == list(range(60))
    assert result["got"] == result["ok"]  # every success delivered, nothing else
    assert result["left"] == []  # no orphan file
