"""The asyncio queue shim: the sync shim's semantics, errors and roster, with coroutines."""

from __future__ import annotations

import asyncio
import inspect
import queue
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from proxyflow.api import (
    AsyncPublisher,
    AsyncSubscriber,
    AsyncWorkSharingPublisher,
    AsyncWorkSharingSubscriber,
    BackendUnavailableError,
    Roster,
)
from proxyflow.shims.queue import (
    AsyncQueuePublisher,
    AsyncQueueSubscriber,
    PublisherClosedError,
    QueueFullError,
    QueuePublisher,
    QueueSubscriber,
    QueueUnavailableError,
    SubscriberClosedError,
    SubscriberTimeoutError,
    UnexpectedItemError,
    UnknownTopicError,
)

T = TypeVar("T")
GUARD = 10.0  # seconds: only a guard against a hang, never a measurement


def run(body: Callable[[], Awaitable[T]]) -> T:
    """Run ``body()`` on a fresh event loop."""

    async def guarded() -> T:
        return await asyncio.wait_for(body(), GUARD)

    return asyncio.run(guarded())


async def until_waiting(task: asyncio.Task[Any]) -> None:
    """Let ``task`` run up to its first suspension (one turn of the loop)."""
    await asyncio.sleep(0)
    assert not task.done()


def test_satisfies_the_async_protocols() -> None:
    async def body() -> None:
        q: asyncio.Queue[bytes] = asyncio.Queue()
        publisher = AsyncQueuePublisher({"t": q})
        subscriber = AsyncQueueSubscriber(q, topics=["t"])
        assert isinstance(publisher, AsyncPublisher)
        assert isinstance(publisher, AsyncWorkSharingPublisher)
        assert isinstance(subscriber, AsyncSubscriber)
        assert isinstance(subscriber, AsyncWorkSharingSubscriber)
        assert subscriber.topics == ("t",)
        assert publisher.topics == ("t",)
        assert repr(publisher) == "AsyncQueuePublisher(topics=['t'], open)"
        await subscriber.close()
        assert repr(subscriber) == "AsyncQueueSubscriber(topics=['t'], closed)"

    run(body)


def test_signatures_are_the_sync_ones() -> None:
    def parameters(cls: type) -> dict[str, Any]:
        return {
            name: (p.kind, p.default)
            for name, p in inspect.signature(cls.__init__).parameters.items()
            if name not in ("self", "poll_interval")  # nothing polls in asyncio
        }

    assert parameters(AsyncQueuePublisher) == parameters(QueuePublisher)
    assert parameters(AsyncQueueSubscriber) == parameters(QueueSubscriber)


def test_messages_are_bytes_in_order() -> None:
    async def body() -> list[bytes]:
        q: asyncio.Queue[bytes] = asyncio.Queue()
        publisher = AsyncQueuePublisher({"a": q, "b": q})
        await publisher.send_message("a", b"one")
        await publisher.send_message("b", bytearray(b"two"))
        await publisher.send_message("a", memoryview(b"three"))
        subscriber = AsyncQueueSubscriber(q, topics=["a", "b"])
        received = [await subscriber.next_message(timeout=0) for _ in range(3)]
        assert all(type(m) is bytes for m in received)
        return received

    assert run(body) == [b"one", b"two", b"three"]


def test_typed_errors_as_in_the_sync_shim() -> None:
    async def body() -> None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        publisher = AsyncQueuePublisher({"b": q, "a": q})
        with pytest.raises(UnknownTopicError) as info:
            await publisher.send_message("c", b"x")
        assert info.value.known == ("a", "b")
        with pytest.raises(TypeError, match="bytes"):
            await publisher.send_message("a", "text")  # type: ignore[arg-type]
        q.put_nowait({"not": "bytes"})
        subscriber = AsyncQueueSubscriber(q)
        with pytest.raises(UnexpectedItemError, match="dict"):
            await subscriber.next_message(timeout=0)
        with pytest.raises(ValueError, match="timeout"):
            await subscriber.next_message(timeout=-1)
        await publisher.close()
        await publisher.close()
        with pytest.raises(PublisherClosedError, match="closed AsyncQueuePublisher"):
            await publisher.send_message("a", b"late")
        with pytest.raises(PublisherClosedError):
            await publisher.join("a", b"p")
        assert q.empty()

    run(body)


def test_only_asyncio_queues_are_accepted() -> None:
    sync_queue: queue.Queue[bytes] = queue.Queue()
    with pytest.raises(TypeError, match=r"QueueSubscriber take queue\.Queue"):
        AsyncQueueSubscriber(sync_queue)  # type: ignore[arg-type]
    publisher = AsyncQueuePublisher({"t": sync_queue})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match=r"asyncio\.Queue"):
        run(lambda: publisher.send_message("t", b"x"))
    assert sync_queue.empty()
    with pytest.raises(ValueError, match="timeout"):
        AsyncQueuePublisher({}, timeout=-1)
    with pytest.raises(ValueError, match="timeout"):
        AsyncQueueSubscriber(asyncio.Queue(), timeout=-1)


def test_a_full_queue_fails_at_once_without_blocking() -> None:
    async def body() -> None:
        q: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1)
        publisher = AsyncQueuePublisher({"a": q}, block=False)
        await publisher.send_message("a", b"first")
        with pytest.raises(QueueFullError, match="at once") as info:
            await publisher.send_message("a", b"second")
        assert isinstance(info.value, TimeoutError)
        assert isinstance(info.value, queue.Full)
        assert q.get_nowait() == b"first"
        assert q.empty()

    run(body)


def test_a_full_queue_raises_after_the_timeout_and_puts_nothing() -> None:
    async def body() -> None:
        q: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1)
        publisher = AsyncQueuePublisher({"a": q}, timeout=0.05)
        await publisher.send_message("a", b"first")
        with pytest.raises(QueueFullError, match=r"after 0\.05s"):
            await publisher.send_message("a", b"second")
        assert q.get_nowait() == b"first"
        assert q.empty(), "the send that gave up left nothing behind"

    run(body)


def test_a_blocked_send_goes_through_once_a_reader_makes_room() -> None:
    async def body() -> list[bytes]:
        q: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1)
        publisher = AsyncQueuePublisher({"a": q})  # waits forever
        subscriber = AsyncQueueSubscriber(q, topics=["a"])
        await publisher.send_message("a", b"first")
        sender = asyncio.ensure_future(publisher.send_message("a", b"second"))
        await until_waiting(sender)
        first = await subscriber.next_message(timeout=1)
        await sender
        return [first, await subscriber.next_message(timeout=1)]

    assert run(body) == [b"first", b"second"]


def test_close_ends_a_blocked_send_and_puts_nothing() -> None:
    async def body() -> None:
        q: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1)
        publisher = AsyncQueuePublisher({"a": q})
        await publisher.send_message("a", b"first")
        sender = asyncio.ensure_future(publisher.send_message("a", b"second"))
        await until_waiting(sender)
        await publisher.close()
        with pytest.raises(PublisherClosedError, match="was not put"):
            await sender
        assert q.get_nowait() == b"first"
        assert q.empty()

    run(body)


def test_close_from_another_task_ends_a_waiting_read_at_once() -> None:
    async def body() -> None:
        q: asyncio.Queue[bytes] = asyncio.Queue()
        subscriber = AsyncQueueSubscriber(q, topics=["a"])
        reader = asyncio.ensure_future(subscriber.next_message(timeout=None))
        await until_waiting(reader)
        await subscriber.close()
        with pytest.raises(SubscriberClosedError, match="closed"):
            await reader
        # The abandoned wait took nothing: a message sent now waits for another reader.
        q.put_nowait(b"after")
        assert await AsyncQueueSubscriber(q).next_message(timeout=0) == b"after"

    run(body)


def test_async_for_stops_at_close() -> None:
    async def body() -> list[bytes]:
        q: asyncio.Queue[bytes] = asyncio.Queue()
        publisher = AsyncQueuePublisher({"a": q})
        subscriber = AsyncQueueSubscriber(q, topics=["a"])
        received: list[bytes] = []

        async def read() -> None:
            async for message in subscriber:
                received.append(message)

        reader = asyncio.ensure_future(read())
        for i in range(3):
            await publisher.send_message("a", b"%d" % i)
        while len(received) < 3:
            await asyncio.sleep(0)
        await subscriber.close()
        await reader  # ends without an error
        with pytest.raises(StopAsyncIteration):
            await subscriber.__anext__()
        return received

    assert run(body) == [b"0", b"1", b"2"]


def test_next_message_without_argument_waits_as_configured() -> None:
    async def body() -> None:
        q: asyncio.Queue[bytes] = asyncio.Queue()
        with pytest.raises(SubscriberTimeoutError, match=r"within 0\.05s"):
            await AsyncQueueSubscriber(q, timeout=0.05).next_message()
        with pytest.raises(SubscriberTimeoutError) as info:
            await AsyncQueueSubscriber(q, block=False).next_message()
        assert isinstance(info.value, queue.Empty)
        with pytest.raises(SubscriberTimeoutError):
            await AsyncQueueSubscriber(q, block=False).__anext__()
        q.put_nowait(b"there")
        assert await AsyncQueueSubscriber(q, timeout=0.05).next_message() == b"there"

    run(body)


def test_a_read_that_times_out_leaves_the_queue_as_it_was() -> None:
    async def body() -> bytes:
        q: asyncio.Queue[bytes] = asyncio.Queue()
        subscriber = AsyncQueueSubscriber(q)
        with pytest.raises(SubscriberTimeoutError):
            await subscriber.next_message(timeout=0.01)
        q.put_nowait(b"later")
        return await subscriber.next_message(timeout=0)

    assert run(body) == b"later"


@pytest.mark.parametrize("turns", [0, 1, 2])
def test_a_reader_cancelled_as_a_message_arrives_loses_nothing(turns: int) -> None:
    """Cancelled before, while or after its wait took the message: the next read returns it."""

    async def body() -> bytes:
        q: asyncio.Queue[bytes] = asyncio.Queue()
        subscriber = AsyncQueueSubscriber(q)
        reader = asyncio.ensure_future(subscriber.next_message(timeout=None))
        await until_waiting(reader)
        q.put_nowait(b"precious")
        for _ in range(turns):
            await asyncio.sleep(0)
        if reader.done():
            return reader.result()
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        return await subscriber.next_message(timeout=1)

    assert run(body) == b"precious"


def test_several_async_consumers_share_the_work_and_all_see_the_end() -> None:
    """3 producers x 4 consumers on one queue: every message once, every consumer ends."""

    async def body() -> list[bytes]:
        q: asyncio.Queue[bytes] = asyncio.Queue(maxsize=8)
        received: list[bytes] = []

        async def produce(pid: bytes) -> None:
            publisher = AsyncQueuePublisher({"t": q})
            await publisher.join("t", pid)
            for i in range(50):
                await publisher.send_message("t", pid + b"-%d" % i)
            await publisher.leave("t", pid)

        async def consume() -> None:
            subscriber = AsyncQueueSubscriber(q, topics=["t"])
            while True:
                roster = await subscriber.roster("t")  # read the roster first
                try:
                    received.append(await subscriber.next_message(timeout=0.01))
                except SubscriberTimeoutError:
                    if roster.complete and len(roster.joined) == 3:
                        return

        producers = [produce(b"p%d" % n) for n in range(3)]
        await asyncio.gather(*producers, *(consume() for _ in range(4)))
        return received

    received = run(body)
    assert sorted(received) == sorted(b"p%d-%d" % (n, i) for n in range(3) for i in range(50))


def test_roster_is_kept_per_queue_and_read_by_every_subscriber() -> None:
    async def body() -> None:
        q: asyncio.Queue[bytes] = asyncio.Queue()
        other: asyncio.Queue[bytes] = asyncio.Queue()
        publisher = AsyncQueuePublisher({"t": q, "u": other})
        readers = [AsyncQueueSubscriber(q), AsyncQueueSubscriber(q, topics=["t"])]
        await publisher.join("t", b"p1")
        await publisher.leave("t", b"p1")
        for reader in readers:
            assert await reader.roster("t") == Roster(frozenset({b"p1"}), frozenset({b"p1"}))
        assert await AsyncQueueSubscriber(other).roster("t") == Roster(frozenset(), frozenset())
        with pytest.raises(ValueError, match="255"):
            await publisher.join("t", b"x" * 256)
        with pytest.raises(UnknownTopicError):
            await publisher.leave("v", b"p1")
        await readers[0].close()
        with pytest.raises(SubscriberClosedError):
            await readers[0].roster("t")
        assert q.empty(), "roster records are not messages"

    run(body)


def test_a_queue_of_another_event_loop_is_unavailable() -> None:
    q: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1)

    async def bind() -> None:  # a wait binds the queue to this loop
        q.put_nowait(b"first")
        with pytest.raises(QueueFullError):
            await AsyncQueuePublisher({"t": q}, timeout=0.01).send_message("t", b"x")

    run(bind)

    async def elsewhere() -> None:
        with pytest.raises(QueueUnavailableError, match="event loop") as info:
            await AsyncQueuePublisher({"t": q}, timeout=1).send_message("t", b"y")
        assert isinstance(info.value, BackendUnavailableError)
        assert q.get_nowait() == b"first"
        with pytest.raises(QueueUnavailableError, match="event loop"):
            await AsyncQueueSubscriber(q).next_message(timeout=1)

    run(elsewhere)


@pytest.mark.skipif(sys.version_info < (3, 13), reason="asyncio.Queue.shutdown() is 3.13+")
def test_a_shut_down_queue_is_unavailable_and_ends_its_subscribers() -> None:
    async def body() -> list[bytes]:
        q: asyncio.Queue[bytes] = asyncio.Queue()
        publisher = AsyncQueuePublisher({"t": q})
        subscriber = AsyncQueueSubscriber(q, topics=["t"])
        waiting = asyncio.ensure_future(AsyncQueueSubscriber(q).next_message(timeout=None))
        await until_waiting(waiting)
        await publisher.send_message("t", b"last")
        assert await waiting == b"last"
        await publisher.send_message("t", b"kept")
        q.shutdown()  # type: ignore[attr-defined]
        with pytest.raises(QueueUnavailableError, match="shut down"):
            await publisher.send_message("t", b"refused")
        return [message async for message in subscriber]  # drains, then ends

    assert run(body) == [b"kept"]
