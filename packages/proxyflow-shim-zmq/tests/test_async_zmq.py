"""The asyncio ZeroMQ shim: the sync shim's wire format, flow control, errors and close."""

from __future__ import annotations

import asyncio
import inspect
import pickle
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest
import zmq

from proxyflow.api import AsyncPublisher, AsyncSubscriber, BackendTimeoutError
from proxyflow.shims.zmq import (
    AddressInUseError,
    AsyncZeroMQPublisher,
    AsyncZeroMQSubscriber,
    InvalidAddressError,
    InvalidTopicError,
    MalformedMessageError,
    PublisherClosedError,
    PublishTimeoutError,
    SubscriberClosedError,
    SubscriberTimeoutError,
    SubscriberWaitTimeoutError,
    ZeroMQPublisher,
    ZeroMQSubscriber,
)

T = TypeVar("T")
GUARD = 60.0  # seconds: only a guard against a hang, never a measurement
BIG = 64 * 1024


def run(body: Callable[[], Awaitable[T]]) -> T:
    """Run ``body()`` on a fresh event loop."""

    async def guarded() -> T:
        return await asyncio.wait_for(body(), GUARD)

    return asyncio.run(guarded())


@asynccontextmanager
async def pair(
    topics: str | list[str] = "t", rcvhwm: int = 1000, **publisher_options: Any
) -> AsyncIterator[tuple[AsyncZeroMQPublisher, AsyncZeroMQSubscriber]]:
    """A publisher and one subscriber of ``topics`` whose subscription has arrived."""
    async with (
        AsyncZeroMQPublisher("tcp://127.0.0.1:*", **publisher_options) as publisher,
        AsyncZeroMQSubscriber(publisher.address, topics, rcvhwm=rcvhwm) as subscriber,
    ):
        await publisher.wait_for_subscribers(1, topics)
        yield publisher, subscriber


def numbered(index: int, size: int) -> bytes:
    return index.to_bytes(8, "big") + bytes(size - 8)


def index_of(message: bytes | memoryview) -> int:
    return int.from_bytes(bytes(message[:8]), "big")


async def drain(subscriber: AsyncZeroMQSubscriber, quiet: float = 0.5) -> list[int]:
    """Every message that arrives until none came for ``quiet`` seconds, as indexes."""
    got = []
    while True:
        try:
            got.append(index_of(await subscriber.next_message(timeout=quiet)))
        except TimeoutError:
            return got


async def until_waiting(task: asyncio.Task[Any]) -> None:
    """Let ``task`` run up to its first suspension (one turn of the loop)."""
    await asyncio.sleep(0)
    assert not task.done()


def test_satisfies_the_async_protocols_and_takes_the_sync_arguments() -> None:
    async def body() -> None:
        async with pair() as (publisher, subscriber):
            assert isinstance(publisher, AsyncPublisher)
            assert isinstance(subscriber, AsyncSubscriber)
            assert subscriber.topics == ("t",)
            assert subscriber.addresses == (publisher.address,)
            assert publisher.on_full == "block"
            assert publisher.send_timeout == 60.0
            assert "on_full='block'" in repr(publisher)
            assert "open" in repr(subscriber)

    run(body)

    def parameters(function: Callable[..., Any], drop: tuple[str, ...] = ()) -> dict[str, Any]:
        return {
            name: (p.kind, p.default)
            for name, p in inspect.signature(function).parameters.items()
            if name not in ("self", *drop)
        }

    assert parameters(AsyncZeroMQPublisher) == parameters(ZeroMQPublisher)
    assert parameters(AsyncZeroMQSubscriber) == parameters(
        ZeroMQSubscriber.__init__,
        ("port", "topic"),  # ProxyStore's form: sync only
    ) | {"topics": (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty)}
    for name in ("send_message", "close", "wait_for_subscribers"):
        assert inspect.iscoroutinefunction(getattr(AsyncZeroMQPublisher, name)), name
    for name in ("next_message", "close", "__anext__"):
        assert inspect.iscoroutinefunction(getattr(AsyncZeroMQSubscriber, name)), name


def test_the_wire_format_and_exact_topics_are_the_sync_shims() -> None:
    """Sync and asyncio objects talk to each other; ``a`` never receives ``ab``."""

    async def body() -> None:
        async with AsyncZeroMQPublisher("tcp://127.0.0.1:*") as publisher:
            sync_subscriber = ZeroMQSubscriber(publisher.address, ["tópic"])
            async with AsyncZeroMQSubscriber(publisher.address, ["a"]) as only_a:
                await publisher.wait_for_subscribers(1, ["tópic", "a"])
                for topic in ("ab", "", "tópic", "a"):
                    await publisher.send_message(topic, f"on-{topic}".encode())
                assert await only_a.next_message(timeout=5) == b"on-a"
                with pytest.raises(SubscriberTimeoutError):
                    await only_a.next_message(timeout=0.2)
            received = await asyncio.to_thread(sync_subscriber.next_message, 5)
            assert received == "on-tópic".encode()
            sync_subscriber.close()

        with ZeroMQPublisher("tcp://127.0.0.1:*") as sync_publisher:
            async with AsyncZeroMQSubscriber(sync_publisher.address, "t") as subscriber:
                await asyncio.to_thread(sync_publisher.wait_for_subscribers, 1, "t")
                sync_publisher.send_message("t", b"from sync")
                assert await subscriber.next_message(timeout=5) == b"from sync"

    run(body)


def test_raw_frames_are_topic_nul_then_payload() -> None:
    async def body() -> list[bytes]:
        context: zmq.Context[Any] = zmq.Context()
        raw = context.socket(zmq.SUB)
        raw.setsockopt(zmq.SUBSCRIBE, b"")
        try:
            async with AsyncZeroMQPublisher("tcp://127.0.0.1:*", context=context) as publisher:
                raw.connect(publisher.address)
                await publisher.wait_for_subscribers(1)
                await publisher.send_message("tópic", b"payload")
                assert await asyncio.to_thread(raw.poll, 5000)
                return raw.recv_multipart()
        finally:
            raw.close(linger=0)
            context.term()

    assert run(body) == ["tópic".encode() + b"\x00", b"payload"]


def test_large_messages_travel_without_copies() -> None:
    async def body() -> None:
        big = bytes(range(256)) * 1024
        async with pair("z") as (publisher, subscriber):
            await publisher.send_message("z", memoryview(big))
            await publisher.send_message("z", b"small")
            received = await subscriber.next_message(timeout=5)
            assert isinstance(received, memoryview)
            assert received == big
            assert type(await subscriber.next_message(timeout=5)) is bytes

    run(body)


def test_a_stalled_subscriber_blocks_the_sender_not_the_loop_and_loses_nothing() -> None:
    async def body() -> None:
        stalled = pair(rcvhwm=10, sndhwm=10, send_timeout=0.3, linger=0)
        async with stalled as (publisher, subscriber):
            ticks = 0
            stop = asyncio.Event()

            async def tick() -> None:  # runs while a send waits for room
                nonlocal ticks
                while not stop.is_set():
                    ticks += 1
                    await asyncio.sleep(0.01)

            ticker = asyncio.ensure_future(tick())
            total, sent = 2000, 0  # 128 MB: far more than the queues and buffers hold
            error: PublishTimeoutError | None = None
            for index in range(total):
                try:
                    await publisher.send_message("t", numbered(index, BIG))
                except PublishTimeoutError as exc:
                    error = exc
                    break
                sent += 1
            ticks_while_blocked = ticks
            stop.set()
            await ticker
            assert error is not None, "the sender must stop once the subscriber's queues are full"
            assert isinstance(error, BackendTimeoutError)
            assert error.topic == "t"
            assert "on_full='drop'" in str(error)
            assert ticks_while_blocked > 0, "other tasks ran while the send waited"
            assert 0 < sent < total
            assert await drain(subscriber) == list(range(sent))
            # Once the subscriber reads again, the rest goes through too.
            reader = asyncio.ensure_future(drain(subscriber, quiet=2.0))
            for index in range(sent, total):
                await publisher.send_message("t", numbered(index, BIG))
            assert await reader == list(range(sent, total))

    run(body)


def test_on_full_drop_loses_messages_for_a_stalled_subscriber() -> None:
    async def body() -> list[int]:
        async with pair(rcvhwm=10, sndhwm=10, on_full="drop", linger=0) as (publisher, subscriber):
            for index in range(2000):  # never waits, never raises
                await publisher.send_message("t", numbered(index, BIG))
            return await drain(subscriber)

    got = run(body)
    assert 0 < len(got) < 2000, "the excess must have been dropped"
    assert got == sorted(got)


def test_close_from_another_task_ends_a_blocked_send() -> None:
    async def body() -> None:
        async with pair(rcvhwm=1, sndhwm=1, send_timeout=None, linger=0) as (publisher, _):

            async def flood() -> None:
                for index in range(100_000):
                    await publisher.send_message("t", numbered(index, BIG))

            sender = asyncio.ensure_future(flood())
            done, _pending = await asyncio.wait((sender,), timeout=0.5)
            assert not done, "the send must wait while the subscriber stalls"
            waiting = asyncio.ensure_future(publisher.send_message("t", b"queued behind"))
            await until_waiting(waiting)
            await publisher.close()
            for task in (sender, waiting):
                with pytest.raises(PublisherClosedError, match="was not sent"):
                    await task

    run(body)


def test_sends_from_several_tasks_are_never_interleaved() -> None:
    """Four tasks send through a full queue; each task's messages arrive whole and in order."""

    async def body() -> dict[int, list[int]]:
        async with pair(rcvhwm=10, sndhwm=10, linger=0) as (publisher, subscriber):

            async def send(task: int) -> None:
                for index in range(300):
                    await publisher.send_message("t", bytes([task]) + numbered(index, 2048))

            senders = asyncio.gather(*(send(task) for task in range(4)))
            per_task: dict[int, list[int]] = {task: [] for task in range(4)}
            for _ in range(1200):
                message = bytes(await subscriber.next_message(timeout=10))
                per_task[message[0]].append(index_of(message[1:]))
            await senders
            return per_task

    assert run(body) == {task: list(range(300)) for task in range(4)}


def test_close_from_another_task_ends_a_waiting_read_at_once() -> None:
    async def body() -> None:
        async with pair() as (_, subscriber):
            reader = asyncio.ensure_future(subscriber.next_message(timeout=None))
            await until_waiting(reader)
            await subscriber.close()
            with pytest.raises(SubscriberClosedError):
                await reader
            assert subscriber.closed
            await subscriber.close()  # idempotent
            with pytest.raises(SubscriberClosedError):
                await subscriber.next_message(timeout=0)
            with pytest.raises(StopAsyncIteration):
                await subscriber.__anext__()

    run(body)


def test_async_for_stops_at_close() -> None:
    async def body() -> list[bytes]:
        async with pair() as (publisher, subscriber):
            received: list[bytes] = []

            async def read() -> None:
                async for message in subscriber:
                    received.append(bytes(message))
                    if len(received) == 3:
                        await subscriber.close()

            reader = asyncio.ensure_future(read())
            for i in range(3):
                await publisher.send_message("t", b"%d" % i)
            await reader
            return received

    assert run(body) == [b"0", b"1", b"2"]


def test_timeouts_as_configured() -> None:
    async def body() -> None:
        async with (
            AsyncZeroMQPublisher("tcp://127.0.0.1:*") as publisher,
            AsyncZeroMQSubscriber(publisher.address, "t", timeout=0.05) as subscriber,
        ):
            with pytest.raises(SubscriberTimeoutError, match=r"within 0\.05s"):
                await subscriber.next_message()
            with pytest.raises(SubscriberTimeoutError):
                await subscriber.__anext__()  # iteration raises, it does not stop
            with pytest.raises(SubscriberTimeoutError, match="within 0s"):
                await subscriber.next_message(timeout=0)
            with pytest.raises(ValueError, match="timeout"):
                await subscriber.next_message(timeout=-1)

    run(body)


@pytest.mark.parametrize("end", ["timeout", "cancel"])
def test_a_wait_that_ends_takes_no_message(end: str) -> None:
    async def body() -> bytes:
        async with pair() as (publisher, subscriber):
            if end == "timeout":
                with pytest.raises(SubscriberTimeoutError):
                    await subscriber.next_message(timeout=0.05)
            else:
                reader = asyncio.ensure_future(subscriber.next_message(timeout=None))
                await until_waiting(reader)
                reader.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await reader
            await publisher.send_message("t", b"kept")
            return bytes(await subscriber.next_message(timeout=5))

    assert run(body) == b"kept"


def test_several_reader_tasks_share_one_subscriber() -> None:
    async def body() -> list[int]:
        async with pair() as (publisher, subscriber):
            got: list[int] = []

            async def read() -> None:
                while len(got) < 500:
                    try:
                        got.append(index_of(await subscriber.next_message(timeout=0.2)))
                    except SubscriberTimeoutError:
                        continue

            readers = asyncio.gather(*(read() for _ in range(3)))
            for index in range(500):
                await publisher.send_message("t", numbered(index, 64))
            await readers
            return got

    got = run(body)
    assert sorted(got) == list(range(500)), "each message read once, whole"


def test_wait_for_subscribers_counts_per_topic() -> None:
    async def body() -> None:
        async with AsyncZeroMQPublisher("tcp://127.0.0.1:*") as publisher:
            with pytest.raises(SubscriberWaitTimeoutError, match="saw"):
                await publisher.wait_for_subscribers(1, "w", timeout=0.2)
            first = AsyncZeroMQSubscriber(publisher.address, ["w", "x"])
            second = AsyncZeroMQSubscriber(publisher.address, "w")
            await publisher.wait_for_subscribers(2, "w")
            await publisher.wait_for_subscribers(1, "x", exact=True)
            await publisher.wait_for_subscribers(3)
            assert publisher.subscriber_count("w") == 2
            assert publisher.subscriber_count("y") == 0
            await first.close()
            await second.close()
            await publisher.wait_for_subscribers(0, ["w", "x"], exact=True)

    run(body)


def test_queued_messages_leave_before_close_returns() -> None:
    async def body() -> list[int]:
        publisher = AsyncZeroMQPublisher("tcp://127.0.0.1:*")
        subscriber = ZeroMQSubscriber(publisher.address, "t")
        await publisher.wait_for_subscribers(1, "t")
        for index in range(2000):
            await publisher.send_message("t", numbered(index, 1024))
        await publisher.close()  # linger: the queued messages still go out
        got = []
        while len(got) < 2000:
            got.append(index_of(await asyncio.to_thread(subscriber.next_message, 5)))
        subscriber.close()
        return got

    assert run(body) == list(range(2000))


def test_bad_arguments_are_typed_errors() -> None:
    async def body() -> None:
        async with AsyncZeroMQPublisher("tcp://127.0.0.1:*") as publisher:
            with pytest.raises(AddressInUseError):
                AsyncZeroMQPublisher(publisher.address)
            with pytest.raises(InvalidTopicError):
                await publisher.send_message("a\x00b", b"x")
            with pytest.raises(TypeError):
                await publisher.send_message("a", "text")  # type: ignore[arg-type]
            with pytest.raises(InvalidTopicError):
                AsyncZeroMQSubscriber(publisher.address, ["ok", "bad\x00"])
            for refused in (lambda: pickle.dumps(publisher),):
                with pytest.raises(TypeError, match="pickled"):
                    refused()
        with pytest.raises(PublisherClosedError):
            await publisher.send_message("a", b"late")
        with pytest.raises(PublisherClosedError):
            publisher.subscriber_count("a")

    run(body)
    with pytest.raises(InvalidAddressError):
        AsyncZeroMQPublisher("nonsense")
    with pytest.raises(InvalidAddressError):
        AsyncZeroMQSubscriber("nonsense", "t")
    for options, match in [
        ({"on_full": "wait"}, "on_full"),
        ({"send_timeout": -1.0}, "send_timeout"),
        ({"sndhwm": -1}, "sndhwm"),
    ]:
        with pytest.raises(ValueError, match=match):
            AsyncZeroMQPublisher("tcp://127.0.0.1:*", **options)  # type: ignore[arg-type]
    for options, match in [({"poll_interval": 0}, "poll_interval"), ({"rcvhwm": -1}, "rcvhwm")]:
        with pytest.raises(ValueError, match=match):
            AsyncZeroMQSubscriber("tcp://127.0.0.1:1", "t", **options)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="topic"):
        AsyncZeroMQSubscriber("tcp://127.0.0.1:1", [])


def test_a_malformed_message_is_a_typed_error_and_the_next_one_is_intact() -> None:
    async def body() -> bytes:
        context: zmq.Context[Any] = zmq.Context()
        raw = context.socket(zmq.XPUB)
        port = raw.bind_to_random_port("tcp://127.0.0.1")
        try:
            async with AsyncZeroMQSubscriber(f"tcp://127.0.0.1:{port}", "m") as subscriber:
                assert await asyncio.to_thread(raw.poll, 5000)  # the subscription arrived
                raw.recv()
                raw.send_multipart([b"m\x00", b"one", b"two"])
                raw.send(b"m\x00")  # a lone frame
                raw.send_multipart([b"m\x00", b"good"])
                with pytest.raises(MalformedMessageError, match="got 3"):
                    await subscriber.next_message(timeout=5)
                with pytest.raises(MalformedMessageError, match="got 1"):
                    await subscriber.next_message(timeout=5)
                return bytes(await subscriber.next_message(timeout=5))
        finally:
            raw.close(linger=0)
            context.term()

    assert run(body) == b"good"
