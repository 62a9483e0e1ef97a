"""A tiny in-process acknowledging broker for the consumer's acknowledgement tests.

One FIFO of messages shared by every subscriber (a consumer group). A message
handed out stays *held* until settled: ``ack`` forgets it, ``nack`` puts it back
at the front, ``reject`` moves it to ``dead``. ``expire()`` plays the visibility
timeout: it puts every held message back, as if its reader had died.
``AsyncMemorySubscriber`` is the asyncio face of a subscriber (its waits run
in a worker thread).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import Any


class MemoryDelivery:
    def __init__(self, broker: MemoryBroker, topic: str, message: bytes, count: int) -> None:
        self._broker = broker
        self.topic = topic
        self.message = message
        self.delivery_count = count
        self.settled = False
        self.nack_delays: list[float | None] = []

    def _settle(self, outcome: str, delay: float | None = None) -> None:
        if self.settled:
            return
        self.settled = True
        self._broker._settled(self, outcome, delay)

    def ack(self) -> None:
        self._settle("ack")

    def nack(self, delay: float | None = None) -> None:
        self._settle("nack", delay)

    def reject(self) -> None:
        self._settle("reject")


class MemoryBroker:
    """Publisher side and settlement records; ``subscriber()`` makes readers."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._ready: deque[tuple[str, bytes, int]] = deque()
        self.held: list[MemoryDelivery] = []
        self.acked: list[bytes] = []
        self.nacked: list[tuple[bytes, float | None]] = []
        self.dead: list[bytes] = []
        self.fail_acks = False

    # publisher
    def send_message(self, topic: str, message: Any) -> None:
        with self._cond:
            self._ready.append((topic, bytes(message), 1))
            self._cond.notify_all()

    def close(self) -> None:
        pass

    def subscriber(self, *topics: str) -> MemoryAckingSubscriber:
        return MemoryAckingSubscriber(self, topics)

    def expire(self) -> int:
        """Give back every held message (its reader died); return how many."""
        with self._cond:
            held, self.held = self.held, []
            for delivery in reversed(held):
                delivery.settled = True  # the dead reader's delivery can no longer settle
                self._ready.appendleft(
                    (delivery.topic, delivery.message, delivery.delivery_count + 1)
                )
            self._cond.notify_all()
        return len(held)

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._ready)

    def _take(self, timeout: float | None, closed: threading.Event) -> MemoryDelivery:
        with self._cond:
            if not self._cond.wait_for(lambda: self._ready or closed.is_set(), timeout):
                raise TimeoutError("no message")
            if closed.is_set():
                raise EOFError("closed")
            topic, message, count = self._ready.popleft()
            delivery = MemoryDelivery(self, topic, message, count)
            self.held.append(delivery)
            return delivery

    def _settled(self, delivery: MemoryDelivery, outcome: str, delay: float | None) -> None:
        if self.fail_acks and outcome == "ack":
            delivery.settled = False
            raise ConnectionError("broker unreachable")
        with self._cond:
            self.held.remove(delivery)
            if outcome == "ack":
                self.acked.append(delivery.message)
            elif outcome == "nack":
                self.nacked.append((delivery.message, delay))
                self._ready.appendleft(
                    (delivery.topic, delivery.message, delivery.delivery_count + 1)
                )
                self._cond.notify_all()
            else:
                self.dead.append(delivery.message)


class MemoryAckingSubscriber:
    def __init__(self, broker: MemoryBroker, topics: tuple[str, ...]) -> None:
        self._broker = broker
        self._topics = topics
        self._closed = threading.Event()

    @property
    def topics(self) -> tuple[str, ...]:
        return self._topics

    def next_delivery(self, timeout: float | None = None) -> MemoryDelivery:
        return self._broker._take(timeout, self._closed)

    def next_message(self, timeout: float | None = None) -> bytes:
        delivery = self.next_delivery(timeout)
        delivery.ack()
        return delivery.message

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            return self.next_message()
        except EOFError:
            raise StopIteration from None

    def close(self) -> None:
        self._closed.set()
        with self._broker._cond:
            self._broker._cond.notify_all()


class AsyncMemoryDelivery:
    def __init__(self, inner: MemoryDelivery) -> None:
        self.inner = inner

    @property
    def message(self) -> bytes:
        return self.inner.message

    @property
    def topic(self) -> str:
        return self.inner.topic

    @property
    def delivery_count(self) -> int:
        return self.inner.delivery_count

    @property
    def settled(self) -> bool:
        return self.inner.settled

    async def ack(self) -> None:
        self.inner.ack()

    async def nack(self, delay: float | None = None) -> None:
        self.inner.nack(delay)

    async def reject(self) -> None:
        self.inner.reject()


class AsyncMemorySubscriber:
    """The asyncio face of `MemoryAckingSubscriber` (its waits run in a thread)."""

    def __init__(self, inner: MemoryAckingSubscriber) -> None:
        self.inner = inner

    @property
    def topics(self) -> tuple[str, ...]:
        return self.inner.topics

    async def next_delivery(self, timeout: float | None = None) -> AsyncMemoryDelivery:
        return AsyncMemoryDelivery(await asyncio.to_thread(self.inner.next_delivery, timeout))

    async def next_message(self, timeout: float | None = None) -> bytes:
        return await asyncio.to_thread(self.inner.next_message, timeout)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            try:
                yield await self.next_message()
            except EOFError:
                return

    async def close(self) -> None:
        self.inner.close()
