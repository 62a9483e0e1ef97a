"""The contract suites for asyncio shims (``AsyncPublisher``, ``AsyncAckingSubscriber``).

The asyncio protocols promise the same guarantees as the synchronous ones,
so their suites are the same tests: each async object is driven through a
small bridge that runs its coroutines on an event loop of the test's own
(on a background thread, so that the thread-based tests still work). A
subclass supplies async factories instead of objects:

* `AsyncAckingSubscriberContract` needs an ``async_acking`` fixture returning
  [`AsyncPubSub`][proxyflow.testing.async_contracts.AsyncPubSub];
* `AsyncPublisherSubscriberContract` needs an ``async_pubsub`` fixture returning the same;
* `AsyncWorkSharingContract`, the producers' roster of work-sharing brokers
  (``join``, ``leave`` and ``roster`` as coroutines), needs the same
  ``async_pubsub`` fixture.

The factories are coroutine functions, called on the bridge's loop, so the
objects they create belong to it; the suite closes every object it created
(on that loop) before the fixture's own teardown runs. Two tests of their own
check the asyncio surface: coroutine methods, and ``async for``.

Example:
    ```python
    class TestAsyncJetStream(AsyncAckingSubscriberContract):
        ack_wait = 1.0

        @pytest.fixture
        def async_acking(self, nats_url, fresh_stream):
            async def publisher():
                return await AsyncJetStreamPublisher(nats_url, stream=fresh_stream).open()

            async def subscribe(topics):
                return await AsyncJetStreamSubscriber(
                    nats_url, topics, durable="group", stream=fresh_stream, ack_wait=self.ack_wait
                ).open()

            return AsyncPubSub(publisher, subscribe)
    ```
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import pytest

from proxyflow.testing.acking_contract import AckingPubSub, AckingSubscriberContract
from proxyflow.testing.pubsub_contract import PublisherSubscriberContract, PubSub
from proxyflow.testing.worksharing_contract import WorkSharingContract

__all__ = [
    "AsyncAckingSubscriberContract",
    "AsyncBridge",
    "AsyncPubSub",
    "AsyncPublisherSubscriberContract",
    "AsyncWorkSharingContract",
]

T = TypeVar("T")


@dataclass
class AsyncPubSub:
    """What an ``async_acking`` or ``async_pubsub`` fixture returns.

    Attributes:
        publisher: Coroutine function returning one open async publisher.
        subscribe: Coroutine function returning a new, ready async subscriber
            of the given topics (in the fixture's one group, for acking shims).
    """

    publisher: Callable[[], Coroutine[Any, Any, Any]]
    subscribe: Callable[[Sequence[str]], Coroutine[Any, Any, Any]]


class AsyncBridge:
    """An event loop on a thread of its own, with a blocking ``run`` for coroutines."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 60.0) -> T:
        """Run ``coro`` on the bridge's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self.loop.close()


class _Delivery:
    def __init__(self, bridge: AsyncBridge, inner: Any) -> None:
        self._bridge, self.inner = bridge, inner

    @property
    def message(self) -> Any:
        return self.inner.message

    @property
    def topic(self) -> str:
        topic: str = self.inner.topic
        return topic

    @property
    def delivery_count(self) -> int:
        count: int = self.inner.delivery_count
        return count

    @property
    def settled(self) -> bool:
        return bool(self.inner.settled)

    def ack(self) -> None:
        self._bridge.run(self.inner.ack())

    def nack(self, delay: float | None = None) -> None:
        self._bridge.run(self.inner.nack(delay))

    def reject(self) -> None:
        self._bridge.run(self.inner.reject())


class _Subscriber:
    def __init__(self, bridge: AsyncBridge, inner: Any) -> None:
        self._bridge, self.inner = bridge, inner

    @property
    def topics(self) -> tuple[str, ...]:
        topics: tuple[str, ...] = self.inner.topics
        return topics

    def next_delivery(self, timeout: float | None = None) -> _Delivery:
        return _Delivery(self._bridge, self._bridge.run(self.inner.next_delivery(timeout), None))

    def next_message(self, timeout: float | None = None) -> Any:
        return self._bridge.run(self.inner.next_message(timeout), None)

    def __iter__(self) -> _Subscriber:
        return self

    def __next__(self) -> Any:
        try:
            return self._bridge.run(self.inner.__anext__(), None)
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        self._bridge.run(self.inner.close())


class _WorkSharingSubscriber(_Subscriber):
    def roster(self, topic: str) -> Any:
        return self._bridge.run(self.inner.roster(topic))


class _DrainableSubscriber(_WorkSharingSubscriber):
    def backlog(self, topic: str) -> Any:
        return self._bridge.run(self.inner.backlog(topic))


class _Publisher:
    def __init__(self, bridge: AsyncBridge, inner: Any) -> None:
        self._bridge, self.inner = bridge, inner

    def send_message(self, topic: str, message: bytes | bytearray | memoryview) -> None:
        self._bridge.run(self.inner.send_message(topic, message))

    def close(self) -> None:
        self._bridge.run(self.inner.close())


class _WorkSharingPublisher(_Publisher):
    def join(self, topic: str, producer_id: bytes) -> None:
        self._bridge.run(self.inner.join(topic, producer_id))

    def leave(self, topic: str, producer_id: bytes) -> None:
        self._bridge.run(self.inner.leave(topic, producer_id))


def _publisher(bridge: AsyncBridge, inner: Any) -> _Publisher:
    """Bridge ``inner``, with ``join``/``leave`` if it has them."""
    if hasattr(inner, "join") and hasattr(inner, "leave"):
        return _WorkSharingPublisher(bridge, inner)
    return _Publisher(bridge, inner)


def _subscriber(bridge: AsyncBridge, inner: Any) -> _Subscriber:
    """Bridge ``inner``, with ``roster`` (and ``backlog``) if it has them."""
    if hasattr(inner, "roster"):
        if hasattr(inner, "backlog"):
            return _DrainableSubscriber(bridge, inner)
        return _WorkSharingSubscriber(bridge, inner)
    return _Subscriber(bridge, inner)


@dataclass
class _Bridged:
    bridge: AsyncBridge
    publisher: _Publisher
    subscribe: Callable[[Sequence[str]], _Subscriber]
    factories: AsyncPubSub


def _bridged(factories: AsyncPubSub) -> Iterator[_Bridged]:
    bridge = AsyncBridge()
    created: list[Any] = []

    def subscribe(topics: Sequence[str]) -> _Subscriber:
        subscriber = bridge.run(factories.subscribe(topics))
        created.append(subscriber)
        return _subscriber(bridge, subscriber)

    try:
        publisher = bridge.run(factories.publisher())
        created.append(publisher)
        yield _Bridged(bridge, _publisher(bridge, publisher), subscribe, factories)
    finally:
        for obj in reversed(created):
            try:
                bridge.run(obj.close(), 15.0)
            except Exception:
                continue
        bridge.stop()


class _Bridging:
    """The ``bridged`` fixture: the async fixture's objects behind synchronous adapters."""

    @pytest.fixture
    def bridged(self, request: pytest.FixtureRequest) -> Iterator[_Bridged]:
        """The async fixture's objects, driven through a bridge."""
        name = "async_acking" if isinstance(self, AckingSubscriberContract) else "async_pubsub"
        yield from _bridged(request.getfixturevalue(name))


class _AsyncSurface(_Bridging):
    """Tests of the asyncio surface itself, shared by both async suites."""

    receive_timeout: ClassVar[float]

    def test_async_methods_are_coroutines(self, bridged: _Bridged) -> None:
        """``send_message``, ``next_message`` and ``close`` are coroutine functions."""
        subscriber = bridged.subscribe(["a"]).inner
        publisher = bridged.publisher.inner
        assert inspect.iscoroutinefunction(publisher.send_message)
        assert inspect.iscoroutinefunction(publisher.close)
        for name in ("next_message", "close"):
            assert inspect.iscoroutinefunction(getattr(subscriber, name)), name
        assert callable(getattr(subscriber, "__aiter__", None))

    def test_async_for_yields_messages(self, bridged: _Bridged) -> None:
        """``async for`` over a subscriber yields the messages sent."""
        subscriber = bridged.subscribe(["a"]).inner
        publisher = bridged.publisher.inner

        async def body() -> list[bytes]:
            for i in range(3):
                await publisher.send_message("a", b"async-%d" % i)
            received: list[bytes] = []
            iterator: AsyncIterator[Any] = subscriber.__aiter__()
            async for message in iterator:
                received.append(bytes(message))
                if len(received) == 3:
                    break
            return received

        assert bridged.bridge.run(body(), self.receive_timeout * 2) == [
            b"async-0",
            b"async-1",
            b"async-2",
        ]


class AsyncAckingSubscriberContract(_AsyncSurface, AckingSubscriberContract):
    """The acknowledgement guarantees, checked on asyncio shims.

    The tests of
    [`AckingSubscriberContract`][proxyflow.testing.acking_contract.AckingSubscriberContract],
    on the async objects. Provide ``async_acking``, an
    [`AsyncPubSub`][proxyflow.testing.async_contracts.AsyncPubSub].
    """

    @pytest.fixture
    def acking(self, bridged: _Bridged) -> AckingPubSub:
        """The async objects behind the synchronous suite's interface."""
        return AckingPubSub(bridged.publisher, bridged.subscribe)

    def test_next_delivery_and_settling_are_coroutines(self, bridged: _Bridged) -> None:
        """``next_delivery`` and a delivery's ``ack``, ``nack``, ``reject`` are coroutines."""
        subscriber = bridged.subscribe(["a"])
        assert inspect.iscoroutinefunction(subscriber.inner.next_delivery)
        bridged.publisher.send_message("a", b"coroutines")
        delivery = subscriber.next_delivery(timeout=self.receive_timeout)
        for name in ("ack", "nack", "reject"):
            assert inspect.iscoroutinefunction(getattr(delivery.inner, name)), name
        delivery.ack()


class AsyncPublisherSubscriberContract(_AsyncSurface, PublisherSubscriberContract):
    """The broker guarantees, checked on asyncio shims.

    The tests of
    [`PublisherSubscriberContract`][proxyflow.testing.pubsub_contract.PublisherSubscriberContract],
    on the async objects. Provide ``async_pubsub``, an
    [`AsyncPubSub`][proxyflow.testing.async_contracts.AsyncPubSub], and set
    ``delivery`` as for the synchronous suite.
    """

    @pytest.fixture
    def pubsub(self, bridged: _Bridged) -> PubSub:
        """The async objects behind the synchronous suite's interface."""
        return PubSub(bridged.publisher, bridged.subscribe)


class AsyncWorkSharingContract(_Bridging, WorkSharingContract):
    """The producers' roster of work-sharing brokers, checked on asyncio shims.

    The tests of
    [`WorkSharingContract`][proxyflow.testing.worksharing_contract.WorkSharingContract],
    on the async objects, whose ``join``, ``leave`` and ``roster`` are
    coroutines (``proxyflow.api.AsyncWorkSharingPublisher`` and
    ``AsyncWorkSharingSubscriber``). Provide ``async_pubsub``, an
    [`AsyncPubSub`][proxyflow.testing.async_contracts.AsyncPubSub].
    """

    @pytest.fixture
    def pubsub(self, bridged: _Bridged) -> PubSub:
        """The async objects behind the synchronous suite's interface."""
        return PubSub(bridged.publisher, bridged.subscribe)

    def test_roster_methods_are_coroutines(self, bridged: _Bridged) -> None:
        """``join``, ``leave`` and ``roster`` are coroutine functions."""
        publisher = bridged.publisher.inner
        subscriber = bridged.subscribe(["a"]).inner
        for owner, name in ((publisher, "join"), (publisher, "leave"), (subscriber, "roster")):
            method = getattr(owner, name, None)
            assert method is not None, f"{type(owner).__name__} lacks {name}()"
            assert inspect.iscoroutinefunction(method), f"{name}() must be a coroutine function"
