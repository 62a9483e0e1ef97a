"""No pyzmq error escapes the asyncio classes: each becomes a documented error of the shim."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import zmq
import zmq.asyncio

from proxyflow.api import BackendUnavailableError
from proxyflow.shims.zmq import (
    AsyncZeroMQPublisher,
    AsyncZeroMQSubscriber,
    InvalidContextError,
    PublisherClosedError,
    SocketFailedError,
    SubscriberClosedError,
)

GUARD = 30.0  # seconds: only a guard against a hang, never a measurement


def run(body: Callable[[], Awaitable[None]]) -> None:
    async def guarded() -> None:
        await asyncio.wait_for(body(), GUARD)

    asyncio.run(guarded())


async def terminated(context: zmq.Context[Any], use: Callable[[], Awaitable[object]]) -> None:
    """Terminate ``context`` in a thread while ``use()`` runs until it raises; ``term`` must end."""
    terminator = threading.Thread(target=context.term, daemon=True)
    terminator.start()
    try:
        while True:
            await use()
            await asyncio.sleep(0.01)
    finally:
        await asyncio.to_thread(terminator.join, 10)
        assert not terminator.is_alive(), "term() must finish: the shim released its socket"


PUBLISHER_CALLS: dict[str, Callable[[AsyncZeroMQPublisher], Awaitable[object]]] = {
    "send_message": lambda p: p.send_message("t", b"x"),
    "wait_for_subscribers": lambda p: p.wait_for_subscribers(5, "t", timeout=5),
}


@pytest.mark.parametrize("call", sorted(PUBLISHER_CALLS))
@pytest.mark.parametrize("kind", [zmq.Context, zmq.asyncio.Context])
def test_a_terminated_context_closes_the_publisher(call: str, kind: type[zmq.Context[Any]]) -> None:
    async def body() -> None:
        context = kind()
        publisher = AsyncZeroMQPublisher("tcp://127.0.0.1:*", context=context, linger=0)
        with pytest.raises(PublisherClosedError, match="context was terminated"):
            await terminated(context, lambda: PUBLISHER_CALLS[call](publisher))
        assert publisher.closed
        await publisher.close()  # still fine
        with pytest.raises(PublisherClosedError):
            await publisher.send_message("t", b"after")

    run(body)


def test_a_terminated_context_ends_a_blocked_send() -> None:
    async def body() -> None:
        context: zmq.Context[Any] = zmq.Context()
        publisher = AsyncZeroMQPublisher(
            "tcp://127.0.0.1:*", context=context, sndhwm=1, send_timeout=None, linger=0
        )
        subscriber = AsyncZeroMQSubscriber(publisher.address, "t", rcvhwm=1, context=context)
        await publisher.wait_for_subscribers(1, "t")

        async def flood() -> None:
            for _ in range(100_000):
                await publisher.send_message("t", bytes(64 * 1024))

        sender = asyncio.ensure_future(flood())
        done, _ = await asyncio.wait((sender,), timeout=0.5)
        assert not done, "the send must wait while the subscriber stalls"
        await subscriber.close()  # its socket must go too, for term() to finish
        with pytest.raises(PublisherClosedError, match="context was terminated"):
            await terminated(context, lambda: sender)

    run(body)


def test_a_terminated_context_closes_a_waiting_subscriber() -> None:
    async def body() -> None:
        context: zmq.Context[Any] = zmq.Context()
        subscriber = AsyncZeroMQSubscriber(
            "tcp://127.0.0.1:1", "t", context=context, poll_interval=0.05
        )
        reader = asyncio.ensure_future(subscriber.next_message(timeout=None))
        with pytest.raises(SubscriberClosedError, match="context was terminated"):
            await terminated(context, lambda: reader)
        assert subscriber.closed
        assert [m async for m in subscriber] == []  # EOF ends iteration
        await subscriber.close()

    run(body)


def test_a_terminated_context_given_at_construction_is_refused() -> None:
    context: zmq.Context[Any] = zmq.Context()
    context.term()
    with pytest.raises(InvalidContextError, match="terminated"):
        AsyncZeroMQPublisher("tcp://127.0.0.1:*", context=context)
    with pytest.raises(InvalidContextError, match="terminated"):
        AsyncZeroMQSubscriber("tcp://127.0.0.1:1", "t", context=context)


def test_running_out_of_sockets_is_a_typed_error() -> None:
    async def body() -> None:
        context: zmq.Context[Any] = zmq.Context()
        context.set(zmq.MAX_SOCKETS, 1)
        async with AsyncZeroMQPublisher("tcp://127.0.0.1:*", context=context, linger=0) as pub:
            for make in (
                lambda: AsyncZeroMQPublisher("tcp://127.0.0.1:*", context=context),
                lambda: AsyncZeroMQSubscriber(pub.address, "t", context=context),
            ):
                with pytest.raises(SocketFailedError, match="creating its socket") as caught:
                    make()
                assert isinstance(caught.value, BackendUnavailableError)
        context.term()

    run(body)


def test_a_given_context_is_left_alone() -> None:
    async def body() -> None:
        context: zmq.Context[Any] = zmq.Context()
        async with (
            AsyncZeroMQPublisher("tcp://127.0.0.1:*", context=context) as publisher,
            AsyncZeroMQSubscriber(publisher.address, "t", context=context),
        ):
            pass
        assert not context.closed
        context.term()

    run(body)
