"""ProxyStore's (hostname, port) call forms work with the same meaning, or fail loudly."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from proxyflow.shims.redis import (
    RedisPublisher,
    RedisQueuePublisher,
    RedisQueueSubscriber,
    RedisSubscriber,
    SubscriberTimeoutError,
)
from proxyflow.shims.redis.hostport import publisher_url, subscriber_target


@pytest.fixture
def host_port(redis_url: str) -> tuple[str, int]:
    parts = urlsplit(redis_url)
    if parts.scheme != "redis" or parts.hostname is None or parts.port is None:
        pytest.skip(f"needs a redis://host:port server, not {parts.scheme}://")
    if parts.password or parts.path not in ("", "/", "/0"):
        pytest.skip("the (hostname, port) form reaches database 0 without credentials")
    return parts.hostname, parts.port


def test_pubsub_hostname_port_topic(host_port: tuple[str, int]) -> None:
    host, port = host_port
    with (
        RedisSubscriber(host, port, "ps-form") as subscriber,
        RedisPublisher(host, port) as publisher,
    ):
        assert subscriber.url == publisher.url == f"redis://{host}:{port}/0"
        assert subscriber.topics == ("ps-form",)
        publisher.send_message("ps-form", b"hello")
        assert subscriber.next_message(timeout=5) == b"hello"
    with RedisSubscriber(hostname=host, port=port, topic=["k1", "k2"]) as by_keyword:
        assert by_keyword.topics == ("k1", "k2")


def test_queue_hostname_port_topic_and_timeout(host_port: tuple[str, int], prefix: str) -> None:
    host, port = host_port
    with (
        RedisQueuePublisher(host, port, prefix=prefix, db=0) as publisher,
        RedisQueueSubscriber(host, port, topic="jobs", prefix=prefix, timeout=0.1) as worker,
    ):
        # ProxyStore: next_message() waits `timeout`, then raises TimeoutError.
        with pytest.raises(SubscriberTimeoutError):
            worker.next_message()
        publisher.send_message("jobs", b"job-1")
        assert worker.next_message() == b"job-1"


def test_hostname_form_builds_the_url() -> None:
    assert publisher_url("P", "db.local", 6380, None, {}) == "redis://db.local:6380/0"
    assert publisher_url("P", None, 1, "h", {"db": 3}) == "redis://h:1/3"
    assert (
        publisher_url("P", "h", 1, None, {"username": "al ice", "password": "p@ss:w/rd"})
        == "redis://al%20ice:p%40ss%3Aw%2Frd@h:1/0"
    )
    assert publisher_url("P", "::1", 1, None, {"password": "pw"}) == "redis://:pw@[::1]:1/0"
    assert subscriber_target("S", "h", 2, "t", None, None, {}) == ("redis://h:2/0", "t")
    assert subscriber_target("S", "redis://h", ["a"], None, None, None, {}).topics == ["a"]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: RedisPublisher("localhost", 6379, ssl=True), r"rediss://"),
        (lambda: RedisPublisher("localhost", 6379, decode_responses=True), r"not \['decode"),
        (lambda: RedisPublisher("redis://localhost:6379", 6379), r"not 'redis://localhost"),
        (lambda: RedisPublisher("redis://localhost:6379", db=1), r"unexpected keyword"),
        (lambda: RedisPublisher("localhost", "6379"), r"port must be an int"),
        (lambda: RedisPublisher("localhost", 6379, db=-1), r"db must be an int"),
        (RedisPublisher, r"needs a URL"),
        (lambda: RedisSubscriber("localhost", 6379), r"needs one topic"),
        (lambda: RedisSubscriber("localhost", 6379, "t", port=1), r"port twice"),
        (
            lambda: RedisSubscriber("redis://localhost", topic="t"),
            r"RedisSubscriber\(url, topics\)",
        ),
        (lambda: RedisSubscriber("redis://localhost"), r"needs a URL and topics"),
        (lambda: RedisQueueSubscriber("localhost", True, "t"), r"neither topics nor a port"),
    ],
)
def test_call_forms_that_fit_neither_fail_loudly(make: object, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        make()  # type: ignore[operator]
