from __future__ import annotations

import array
import contextlib
import queue
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

import proxyflow.shims.redis as shim
from proxyflow.api import BackendUnavailableError, ProxyflowError
from proxyflow.api import redact_url as api_redact_url
from proxyflow.shims.redis import (
    BrokerConnectionError,
    InvalidBrokerURLError,
    PublisherClosedError,
    RedisPublisher,
    RedisQueuePublisher,
    RedisQueueSubscriber,
    RedisShimError,
    RedisSubscriber,
    SubscriberClosedError,
    SubscriberTimeoutError,
    redact_url,
)
from proxyflow.testing.redis_server import RedisServer, RedisServerUnavailableError

UNREACHABLE = "redis://user:s3cret@127.0.0.1:1/0"


@pytest.fixture
def admin(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, protocol=2)
    yield client
    client.close()


@pytest.fixture
def private_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        server.start()
    except RedisServerUnavailableError as exc:
        pytest.skip(f"no redis-server: {exc}")
    yield server
    server.stop()


def test_version_and_public_names() -> None:
    # A release version (X.Y.Z), bumped by `hatch run release:prepare`.
    assert re.fullmatch(r"\d+\.\d+\.\d+", shim.__version__)
    for name in (
        "RedisPublisher",
        "RedisSubscriber",
        "RedisQueuePublisher",
        "RedisQueueSubscriber",
    ):
        assert name in shim.__all__


def test_error_hierarchy_uses_builtins() -> None:
    assert issubclass(BrokerConnectionError, ConnectionError)
    assert issubclass(SubscriberTimeoutError, TimeoutError)
    assert issubclass(SubscriberClosedError, EOFError)
    assert issubclass(PublisherClosedError, RuntimeError)
    assert issubclass(InvalidBrokerURLError, ValueError)
    assert issubclass(BrokerConnectionError, RedisShimError)
    assert issubclass(BrokerConnectionError, BackendUnavailableError)
    assert issubclass(RedisShimError, ProxyflowError)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://user:pw@host:1/2", "redis://user:***@host:1/2"),
        ("rediss://:pw@host", "rediss://:***@host"),
        ("redis://user@host", "redis://user@host"),
        ("redis://host/0?password=pw&db=1", "redis://host/0?password=***&db=1"),
        # Regressions: the shim's own redactor used to drop the "//" of socket URLs.
        ("unix:///tmp/r.sock", "unix:///tmp/r.sock"),
        ("unix:///tmp/r.sock?db=2&password=pw", "unix:///tmp/r.sock?db=2&password=***"),
    ],
)
def test_redact_url_is_the_api_one(url: str, expected: str) -> None:
    assert redact_url is api_redact_url  # a documented alias, kept for compatibility
    assert redact_url(url) == expected


def test_socket_url_is_named_whole_in_errors(tmp_path: Path) -> None:
    url = f"unix://:s3cret@{tmp_path}/missing.sock"
    with pytest.raises(BrokerConnectionError) as info:
        RedisPublisher(url, connect_timeout=2)
    assert info.value.url == f"unix://:***@{tmp_path}/missing.sock"
    assert f"unix://:***@{tmp_path}/missing.sock" in str(info.value)
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize(
    "make",
    [
        lambda: RedisPublisher(UNREACHABLE, connect_timeout=2),
        lambda: RedisSubscriber(UNREACHABLE, ["a"], connect_timeout=2),
        lambda: RedisQueuePublisher(UNREACHABLE, connect_timeout=2),
        lambda: RedisQueueSubscriber(UNREACHABLE, ["a"], connect_timeout=2),
    ],
    ids=["publisher", "subscriber", "queue-publisher", "queue-subscriber"],
)
def test_unreachable_server_fails_fast_and_names_the_url(make: object) -> None:
    start = time.monotonic()
    with pytest.raises(BrokerConnectionError) as info:
        make()  # type: ignore[operator]
    assert time.monotonic() - start < 4.0
    message = str(info.value)
    assert "127.0.0.1:1" in message
    assert "s3cret" not in message
    assert info.value.url == "redis://user:***@127.0.0.1:1/0"
    assert info.value.backend == info.value.url  # as every BackendUnavailableError


def test_invalid_url_is_a_value_error() -> None:
    with pytest.raises(InvalidBrokerURLError, match="not a Redis URL"):
        RedisPublisher("http://user:pw@localhost:6379")


def test_subscriber_needs_topics(redis_url: str) -> None:
    with pytest.raises(ValueError, match="at least one topic"):
        RedisSubscriber(redis_url, [])
    with pytest.raises(TypeError):
        RedisQueueSubscriber(redis_url, [b"bytes-topic"])  # type: ignore[list-item]


def test_queue_poll_interval_must_fit_socket_timeout(redis_url: str) -> None:
    with pytest.raises(ValueError, match="must exceed poll_interval"):
        RedisQueueSubscriber(redis_url, ["a"], socket_timeout=0.5, poll_interval=1.0)


def test_connections_speak_resp2(redis_url: str, admin: redis.Redis) -> None:
    version = str(admin.info("server")["redis_version"])
    if int(version.split(".", maxsplit=1)[0]) < 7:
        pytest.skip(f"CLIENT LIST reports the protocol only from Redis 7 (server: {version})")
    with RedisSubscriber(redis_url, ["resp-check"]):
        clients = admin.client_list(_type="pubsub")
        assert clients
        assert all(c.get("resp") == "2" for c in clients)


def test_subscribed_when_constructor_returns(redis_url: str, admin: redis.Redis) -> None:
    with RedisSubscriber(redis_url, ["ready-1", "ready-2"]) as subscriber:
        counts = dict(admin.pubsub_numsub("ready-1", "ready-2"))
        assert counts == {b"ready-1": 1, b"ready-2": 1}
        admin.publish("ready-2", b"right away")
        assert subscriber.next_message(timeout=5) == b"right away"


def test_pubsub_drops_messages_nobody_listens_to(redis_url: str) -> None:
    with RedisPublisher(redis_url) as publisher:
        publisher.send_message("drop-topic", b"lost")
        with RedisSubscriber(redis_url, "drop-topic") as subscriber:
            publisher.send_message("drop-topic", b"seen")
            assert subscriber.next_message(timeout=5) == b"seen"
            with pytest.raises(TimeoutError):
                subscriber.next_message(timeout=0.2)


def test_queue_keeps_messages_without_consumers(
    redis_url: str, prefix: str, admin: redis.Redis
) -> None:
    with RedisQueuePublisher(redis_url, prefix=prefix) as publisher:
        for i in range(5):
            publisher.send_message("jobs", b"job-%d" % i)
    assert admin.llen(prefix + "jobs") == 5
    with RedisQueueSubscriber(redis_url, "jobs", prefix=prefix) as subscriber:
        assert [subscriber.next_message(timeout=5) for _ in range(5)] == [
            b"job-%d" % i for i in range(5)
        ]
    assert admin.exists(prefix + "jobs") == 0


def test_default_prefix(redis_url: str, admin: redis.Redis) -> None:
    topic = f"default-prefix-{time.monotonic_ns()}"
    with RedisQueuePublisher(redis_url) as publisher:
        assert publisher.prefix == "proxyflow:queue:"
        publisher.send_message(topic, b"x")
    assert admin.lpop("proxyflow:queue:" + topic) == b"x"


def test_queue_exactly_once_with_two_consumers(redis_url: str, prefix: str) -> None:
    sent = [b"m-%03d" % i for i in range(200)]
    results: queue.Queue[tuple[int, bytes]] = queue.Queue()
    done = threading.Event()
    subscribers = [RedisQueueSubscriber(redis_url, "work", prefix=prefix) for _ in range(2)]

    def consume(index: int) -> None:
        subscriber = subscribers[index]
        while not done.is_set():
            try:
                results.put((index, subscriber.next_message(timeout=0.1)))
            except TimeoutError:
                continue

    threads = [threading.Thread(target=consume, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    with RedisQueuePublisher(redis_url, prefix=prefix) as publisher:
        for message in sent:
            publisher.send_message("work", message)
    received = [results.get(timeout=10) for _ in sent]
    done.set()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()
    for subscriber in subscribers:
        subscriber.close()
    assert results.empty()
    messages = [m for _, m in received]
    assert sorted(messages) == sent
    assert len(set(messages)) == len(sent)
    for index in range(2):
        mine = [m for i, m in received if i == index]
        assert mine == sorted(mine), "each consumer sees its share in order"


def test_queue_subscriber_rotates_topics(redis_url: str, prefix: str) -> None:
    with RedisQueuePublisher(redis_url, prefix=prefix) as publisher:
        for i in range(3):
            publisher.send_message("x", b"x%d" % i)
            publisher.send_message("y", b"y%d" % i)
    with RedisQueueSubscriber(redis_url, ["x", "y"], prefix=prefix) as subscriber:
        got = [subscriber.next_message(timeout=5) for _ in range(6)]
    assert {m[:1] for m in got[:2]} == {b"x", b"y"}
    assert [m for m in got if m.startswith(b"x")] == [b"x0", b"x1", b"x2"]


def test_queue_zero_timeout(redis_url: str, prefix: str) -> None:
    with RedisQueueSubscriber(redis_url, "z", prefix=prefix) as subscriber:
        start = time.monotonic()
        with pytest.raises(SubscriberTimeoutError):
            subscriber.next_message(timeout=0)
        assert time.monotonic() - start < 1.0
        with RedisQueuePublisher(redis_url, prefix=prefix) as publisher:
            publisher.send_message("z", b"there")
        assert subscriber.next_message(timeout=0) == b"there"


def test_iteration_timeout_from_constructor(redis_url: str, prefix: str) -> None:
    subscriber = RedisSubscriber(redis_url, "iter-timeout", timeout=0.1)
    worker = RedisQueueSubscriber(redis_url, "it", prefix=prefix, timeout=0.1)
    for reader in (subscriber, worker):
        with pytest.raises(TimeoutError):
            next(reader)
        reader.close()


def test_wide_memoryview_is_sent_as_its_bytes(redis_url: str, prefix: str) -> None:
    values = array.array("d", [1.5, -2.0, 3.25])
    with RedisQueuePublisher(redis_url, prefix=prefix) as publisher:
        publisher.send_message("arr", memoryview(values))
        with pytest.raises(TypeError):
            publisher.send_message("arr", "text")  # type: ignore[arg-type]
    with RedisQueueSubscriber(redis_url, "arr", prefix=prefix) as subscriber:
        assert subscriber.next_message(timeout=5) == values.tobytes()
        with pytest.raises(TimeoutError):
            subscriber.next_message(timeout=0)


def test_closed_publishers_raise(redis_url: str) -> None:
    for publisher in (RedisPublisher(redis_url), RedisQueuePublisher(redis_url)):
        publisher.close()
        publisher.close()
        assert publisher.closed
        with pytest.raises(PublisherClosedError):
            publisher.send_message("a", b"late")


@pytest.mark.parametrize("kind", ["pubsub", "queue"])
def test_close_from_another_thread_wakes_the_reader(
    redis_url: str, prefix: str, admin: redis.Redis, kind: str
) -> None:
    subscriber: RedisSubscriber | RedisQueueSubscriber
    if kind == "pubsub":
        subscriber = RedisSubscriber(redis_url, "wake", poll_interval=0.05)
    else:
        subscriber = RedisQueueSubscriber(redis_url, "wake", prefix=prefix, poll_interval=0.05)
    outcome: queue.Queue[BaseException] = queue.Queue()
    started = threading.Event()

    def read() -> None:
        started.set()
        try:
            subscriber.next_message()
        except BaseException as exc:
            outcome.put(exc)

    thread = threading.Thread(target=read)
    thread.start()
    assert started.wait(5)
    subscriber.close()
    thread.join(5)
    assert not thread.is_alive()
    assert isinstance(outcome.get(timeout=1), EOFError)
    if kind == "queue":
        with RedisQueuePublisher(redis_url, prefix=prefix) as publisher:
            publisher.send_message("wake", b"kept")
        assert admin.lrange(prefix + "wake", 0, -1) == [b"kept"]


def _kill_pubsub_connections(admin: redis.Redis) -> None:
    ids = [c["id"] for c in admin.client_list(_type="pubsub")]
    assert len(ids) == 1  # only the test's subscriber holds a pub/sub connection
    for client_id in ids:
        admin.client_kill_filter(_id=client_id)


def test_killed_pubsub_connection_is_resubscribed(redis_url: str, admin: redis.Redis) -> None:
    with (
        RedisSubscriber(redis_url, "kill-me", poll_interval=0.05) as subscriber,
        RedisPublisher(redis_url, max_unconfirmed=0) as publisher,
    ):
        assert subscriber.reconnects == 0
        _kill_pubsub_connections(admin)
        # Publish until the subscriber is back: what it missed meanwhile is lost.
        got = None
        deadline = time.monotonic() + 10
        while got is None and time.monotonic() < deadline:
            publisher.send_message("kill-me", b"after")
            with contextlib.suppress(TimeoutError):
                got = subscriber.next_message(timeout=0.1)
        assert got == b"after"
        assert subscriber.reconnects == 1


def test_killed_pubsub_connection_without_reconnection_raises(
    redis_url: str, admin: redis.Redis
) -> None:
    with RedisSubscriber(redis_url, "kill-me", reconnect_timeout=0) as subscriber:
        _kill_pubsub_connections(admin)
        start = time.monotonic()
        with pytest.raises(BrokerConnectionError, match="lost"):
            subscriber.next_message(timeout=10)
        assert time.monotonic() - start < 5
        with pytest.raises(ConnectionError):
            subscriber.next_message(timeout=0.1)
        assert subscriber.reconnects == 0


def test_stopped_server_raises_connection_error(private_server: RedisServer, prefix: str) -> None:
    url = private_server.url
    publisher = RedisQueuePublisher(url, prefix=prefix, socket_timeout=2, connect_timeout=2)
    worker = RedisQueueSubscriber(url, "w", prefix=prefix, socket_timeout=2, connect_timeout=2)
    listener = RedisSubscriber(
        url, "w", socket_timeout=2, connect_timeout=2, reconnect_timeout=0.5, poll_interval=0.05
    )
    publisher.send_message("w", b"before")
    assert worker.next_message(timeout=5) == b"before"
    private_server.stop()
    with pytest.raises(BrokerConnectionError):
        worker.next_message(timeout=5)
    with pytest.raises(BrokerConnectionError, match="could not reconnect within"):
        listener.next_message(timeout=5)
    with pytest.raises(BrokerConnectionError):
        listener.next_message(timeout=0)  # then and every time after
    with pytest.raises(BrokerConnectionError):
        publisher.send_message("w", b"after")
    for closable in (publisher, worker, listener):
        closable.close()
