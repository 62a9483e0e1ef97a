"""Deferred confirmation of sends: ordering, flush/close, and rejected messages surfacing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from proxyflow.shims.redis import (
    BrokerAuthenticationError,
    PublishRejectedError,
    RedisPublisher,
    RedisQueuePublisher,
    RedisQueueSubscriber,
    RedisSubscriber,
)


@pytest.fixture
def limited_url(redis_url: str) -> Iterator[str]:
    """A user allowed to publish only on channel 'allowed' and push only to key 'allowed'."""
    admin = redis.Redis.from_url(redis_url, protocol=2)
    name, password = f"limited-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin.acl_setuser(
        name,
        enabled=True,
        passwords=[f"+{password}"],
        commands=["+@all"],
        keys=["allowed"],
        channels=["allowed"],
        reset_channels=True,  # Redis 6.2 starts new users with allchannels
    )
    parts = urlsplit(redis_url)
    yield urlunsplit(parts._replace(netloc=f"{name}:{password}@{parts.hostname}:{parts.port}"))
    admin.acl_deluser(name)
    admin.close()


def test_many_unconfirmed_messages_arrive_in_order(redis_url: str) -> None:
    topic = f"confirm-{uuid.uuid4().hex}"
    with RedisSubscriber(redis_url, [topic], timeout=10) as subscriber:
        with RedisPublisher(redis_url, max_unconfirmed=8) as publisher:
            for i in range(100):  # beyond max_unconfirmed: sends read replies as they go
                publisher.send_message(topic, str(i).encode())
            publisher.flush()
        assert [subscriber.next_message(timeout=5) for _ in range(100)] == [
            str(i).encode() for i in range(100)
        ]


def test_rejected_publish_surfaces_by_flush_at_the_latest(limited_url: str) -> None:
    publisher = RedisPublisher(limited_url)
    publisher.send_message("allowed", b"ok")
    # The reply is read by a later call, or by this send if it is already there.
    with pytest.raises(BrokerAuthenticationError, match="may not"):  # noqa: PT012
        publisher.send_message("denied", b"no")
        publisher.flush()
    publisher.send_message("allowed", b"still usable")
    publisher.close()
    assert publisher.closed


def test_rejected_publish_surfaces_at_send_when_confirming_each(limited_url: str) -> None:
    with RedisPublisher(limited_url, max_unconfirmed=0) as publisher:
        publisher.send_message("allowed", b"ok")
        with pytest.raises(BrokerAuthenticationError, match="'denied'"):
            publisher.send_message("denied", b"no")


def test_rejected_publish_surfaces_by_close_at_the_latest(limited_url: str) -> None:
    publisher = RedisPublisher(limited_url)
    with pytest.raises(BrokerAuthenticationError):  # noqa: PT012
        publisher.send_message("denied", b"no")  # raises here only if the reply came at once
        publisher.close()
    publisher.close()  # idempotent, also after a failed confirmation
    assert publisher.closed


def test_queue_publisher_confirms_each_send_by_default(limited_url: str) -> None:
    with RedisQueuePublisher(limited_url, prefix="") as publisher:
        publisher.send_message("allowed", b"stored")
        with pytest.raises(BrokerAuthenticationError):
            publisher.send_message("denied", b"no")


def test_a_key_of_another_type_is_a_rejected_message(redis_url: str, prefix: str) -> None:
    admin = redis.Redis.from_url(redis_url, protocol=2)
    admin.set(prefix + "taken", b"a string, not a list")
    try:
        with RedisQueuePublisher(redis_url, prefix=prefix) as publisher:
            with pytest.raises(PublishRejectedError, match="WRONGTYPE") as caught:
                publisher.send_message("taken", b"no")
            assert "'taken'" in str(caught.value)
            publisher.send_message("free", b"still usable")
    finally:
        admin.delete(prefix + "taken", prefix + "free")
        admin.close()


def test_queue_publisher_with_deferred_confirmation_delivers_everything(redis_url: str) -> None:
    topic = f"confirm-q-{uuid.uuid4().hex}"
    with RedisQueuePublisher(redis_url, max_unconfirmed=16) as publisher:
        for i in range(50):
            publisher.send_message(topic, str(i).encode())
    with RedisQueueSubscriber(redis_url, [topic], timeout=5) as subscriber:
        assert [subscriber.next_message(timeout=5) for _ in range(50)] == [
            str(i).encode() for i in range(50)
        ]


def test_max_unconfirmed_must_not_be_negative(redis_url: str) -> None:
    with pytest.raises(ValueError, match="max_unconfirmed"):
        RedisPublisher(redis_url, max_unconfirmed=-1)
