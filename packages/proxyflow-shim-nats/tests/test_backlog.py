"""``backlog(topic)`` of the JetStream subscribers, and a dead member's messages coming back."""

from __future__ import annotations

import asyncio
from typing import Any

import nats.errors
import pytest

from proxyflow.api import AsyncDrainableSubscriber, DrainableSubscriber, GroupBacklog
from proxyflow.shims.nats import (
    AsyncJetStreamSubscriber,
    BrokerTimeoutError,
    JetStreamPublisher,
    JetStreamSubscriber,
    SubscriberClosedError,
)
from proxyflow.shims.nats.streams import consumer_backlog

ACK_WAIT = 1.0


def member(url: str, stream: str, **options: Any) -> JetStreamSubscriber:
    """A subscriber of the durable ``work`` that fetches one message at a time."""
    return JetStreamSubscriber(
        url, "a", durable="work", stream=stream, ack_wait=ACK_WAIT, batch=1, **options
    )


def test_backlog_counts_pending_and_ack_pending_messages(nats_url: str, stream: str) -> None:
    publisher = JetStreamPublisher(nats_url, stream=stream)
    survivor = member(nats_url, stream)
    dead = member(nats_url, stream)
    try:
        assert isinstance(survivor, DrainableSubscriber)
        assert survivor.backlog("a") == GroupBacklog(0, 0)
        for i in range(3):
            publisher.send_message("a", b"m%d" % i)
        assert survivor.backlog("a") == GroupBacklog(3, 0)
        held = dead.next_delivery(timeout=5)  # then its member "dies": never settled
        assert survivor.backlog("a") == GroupBacklog(2, 1)
        rest = [survivor.next_delivery(timeout=5) for _ in range(2)]
        assert survivor.backlog("a") == GroupBacklog(0, 3)
        for delivery in rest:
            delivery.ack()
        assert survivor.backlog("a") == GroupBacklog(0, 1)  # what the dead member holds
        again = survivor.next_delivery(timeout=10 * ACK_WAIT)  # redelivered after ack_wait
        assert (again.message, again.delivery_count) == (held.message, 2)
        again.ack()
        assert survivor.backlog("a") == GroupBacklog(0, 0)
        with pytest.raises(ValueError, match="'b'"):
            survivor.backlog("b")
    finally:
        survivor.close()
        dead.close()
        publisher.close()
    with pytest.raises(SubscriberClosedError):
        survivor.backlog("a")


def test_async_backlog_follows_the_durable(nats_url: str, stream: str) -> None:
    async def scenario() -> list[GroupBacklog]:
        seen = []
        async with AsyncJetStreamSubscriber(
            nats_url, "a", durable="work", stream=stream, ack_wait=ACK_WAIT
        ) as subscriber:
            assert isinstance(subscriber, AsyncDrainableSubscriber)
            publisher = JetStreamPublisher(nats_url, stream=stream)
            publisher.send_message("a", b"x")
            publisher.close()
            seen.append(await subscriber.backlog("a"))
            delivery = await subscriber.next_delivery(timeout=5)
            seen.append(await subscriber.backlog("a"))
            await delivery.ack()
            seen.append(await subscriber.backlog("a"))
        return seen

    assert asyncio.run(scenario()) == [GroupBacklog(1, 0), GroupBacklog(0, 1), GroupBacklog(0, 0)]


class _SilentJetStream:
    """A JetStream context whose requests time out (a server that does not answer)."""

    async def consumer_info(self, stream: str, name: str) -> Any:
        raise nats.errors.TimeoutError


def test_backlog_errors_are_the_shim_s() -> None:
    url = "nats://127.0.0.1:4222"
    with pytest.raises(BrokerTimeoutError) as caught:  # a TimeoutError, never nats-py's
        asyncio.run(consumer_backlog(_SilentJetStream(), "S", "work_a", url))  # type: ignore[arg-type]
    assert "backlog" in str(caught.value)
