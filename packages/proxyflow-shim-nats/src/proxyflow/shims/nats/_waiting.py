"""Waiting for a subscriber's next delivery: pull requests only while a reader waits.

[`wait_for_delivery`][proxyflow.shims.nats._waiting.wait_for_delivery] hands
out a fetched message when one may go (setting aside those that must not),
else asks the [`Puller`][proxyflow.shims.nats.puller.Puller] for more and
waits for it, waking at least every second to notice pull requests lost with
a connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from proxyflow.shims.nats.delivery import AsyncJetStreamDelivery
from proxyflow.shims.nats.exceptions import BrokerUnavailableError, SubscriberTimeoutError
from proxyflow.shims.nats.intake import Intake
from proxyflow.shims.nats.puller import Puller
from proxyflow.shims.nats.translation import translate_errors

__all__ = ["wait_for_delivery"]

_TICK = 1.0
"""Longest single wait of a reader, to notice lost pull requests."""


async def wait_for_delivery(
    puller: Puller,
    intake: Intake,
    timeout: float | None,
    *,
    check_open: Callable[[], None],
    lost: Callable[[], bool],
    take_ready: Callable[[], AsyncJetStreamDelivery | None],
    url: str,
    reading: str,
) -> AsyncJetStreamDelivery:
    """Return the next delivery, waiting at most ``timeout`` seconds (``None``: forever).

    Args:
        puller: Fetches the subscriber's messages.
        intake: Decides which fetched messages may be handed out.
        timeout: Seconds to wait.
        check_open: Raises if the subscriber is closed.
        lost: Whether the connection is lost for good.
        take_ready: Hands out the oldest fetched message, if it may go.
        url: The server's redacted URL, for errors.
        reading: What the subscriber reads, for the timeout's message.

    Raises:
        SubscriberTimeoutError: if nothing arrived in time.
        BrokerUnavailableError: if the connection is lost for good.
    """
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    while True:
        check_open()
        if lost() or puller.failure is not None:
            raise BrokerUnavailableError(
                f"NATS at {url}: {puller.failure or 'the connection was lost for good'}", url
            )
        puller.arrived.clear()
        if not puller.reconnecting:  # else wait: the reconnection wakes the readers
            while puller.ready:
                delivery = take_ready()
                if delivery is not None:
                    return delivery
                await intake.set_aside_unfit()
            with translate_errors(url, "requesting messages"):
                await puller.request()
        remaining = None if deadline is None else deadline - loop.time()
        if remaining is not None and remaining <= 0:
            raise SubscriberTimeoutError(f"no message within {timeout}s on {reading} ({url})")
        await puller.arrived.wait(_TICK if remaining is None else min(_TICK, remaining))
