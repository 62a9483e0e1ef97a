"""A minimal in-process durable broker with acknowledgements, and broken variants of it.

The acking contract suites are checked against these: the correct one must
pass, each broken one must fail the test that states the guarantee it breaks.
Like any third-party shim, they import nothing of proxyflow.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class Entry:
    seq: int
    topic: str
    message: bytes
    deliveries: int = 0
    visible_at: float = 0.0
    done: bool = False
    holder: object = None


class AckingBroker:
    """One consumer group over in-memory topics, with a visibility timeout."""

    def __init__(self, ack_wait: float, max_deliveries: int | None = None) -> None:
        self.ack_wait = ack_wait
        self.max_deliveries = max_deliveries
        self.entries: list[Entry] = []
        self.cond = threading.Condition()
        self._seq = itertools.count()

    def put(self, topic: str, message: bytes) -> None:
        with self.cond:
            self.entries.append(Entry(next(self._seq), topic, message))
            self.cond.notify_all()

    def exhausted(self, entry: Entry) -> bool:
        return self.max_deliveries is not None and entry.deliveries >= self.max_deliveries

    def take(self, topics: Sequence[str], holder: object, timeout: float | None) -> Entry:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.cond:
            while True:
                if getattr(holder, "closed", False):
                    raise EOFError("subscriber closed")
                now = time.monotonic()
                waiting = [e for e in self.entries if e.topic in topics and not e.done]
                for entry in waiting:
                    if entry.visible_at <= now and entry.deliveries and self.exhausted(entry):
                        entry.done = True  # delivered max_deliveries times: dropped
                ready = [e for e in waiting if not e.done and e.visible_at <= now]
                if ready:
                    entry = min(ready, key=lambda e: e.seq)
                    entry.deliveries += 1
                    entry.visible_at = now + self.ack_wait
                    entry.holder = holder
                    return entry
                if deadline is not None and now >= deadline:
                    raise TimeoutError("no message")
                due = [e.visible_at - now for e in waiting if not e.done]
                wait = min(due, default=0.05) if due else None
                if deadline is not None:
                    wait = min(wait if wait is not None else deadline - now, deadline - now)
                self.cond.wait(max(wait, 0.001) if wait is not None else 0.1)


class MemoryDelivery:
    def __init__(self, broker: AckingBroker, entry: Entry) -> None:
        self._broker = broker
        self._entry = entry
        self._count = entry.deliveries
        self.settled = False

    @property
    def message(self) -> bytes:
        return self._entry.message

    @property
    def topic(self) -> str:
        return self._entry.topic

    @property
    def delivery_count(self) -> int:
        return self._count

    def _settle(self, done: bool, delay: float | None = None) -> None:
        if self.settled:
            return
        self.settled = True
        with self._broker.cond:
            if done:
                self._entry.done = True
            else:
                self._entry.visible_at = time.monotonic() + (delay or 0.0)
                self._entry.holder = None
            self._broker.cond.notify_all()

    def ack(self) -> None:
        self._settle(done=True)

    def nack(self, delay: float | None = None) -> None:
        self._settle(done=False, delay=delay)

    def reject(self) -> None:
        self._settle(done=True)


class MemoryAckingPublisher:
    def __init__(self, broker: AckingBroker) -> None:
        self._broker = broker
        self.closed = False

    def send_message(self, topic: str, message: Any) -> None:
        if self.closed:
            raise RuntimeError("publisher closed")
        self._broker.put(topic, bytes(message))

    def close(self) -> None:
        self.closed = True


class MemoryAckingSubscriber:
    delivery_class: type[MemoryDelivery] = MemoryDelivery

    def __init__(self, broker: AckingBroker, topics: Sequence[str]) -> None:
        self._broker = broker
        self._topics = tuple(topics)
        self.closed = False
        self.held: list[MemoryDelivery] = []

    @property
    def topics(self) -> tuple[str, ...]:
        return self._topics

    def next_delivery(self, timeout: float | None = None) -> MemoryDelivery:
        entry = self._broker.take(self._topics, self, timeout)
        delivery = self.delivery_class(self._broker, entry)
        self.held.append(delivery)
        return delivery

    def next_message(self, timeout: float | None = None) -> bytes:
        delivery = self.next_delivery(timeout)
        delivery.ack()
        return delivery.message

    def __iter__(self) -> MemoryAckingSubscriber:
        return self

    def __next__(self) -> bytes:
        try:
            return self.next_message()
        except EOFError:
            raise StopIteration from None

    def close(self) -> None:
        with self._broker.cond:
            if self.closed:
                return
            self.closed = True
            self._broker.cond.notify_all()
        for delivery in self.held:
            if not delivery.settled:
                self.release(delivery)

    def release(self, delivery: MemoryDelivery) -> None:
        delivery.nack()


# -- broken on purpose ---------------------------------------------------------------


class AckDoesNothing(MemoryDelivery):
    """ack() is a no-op: acknowledged messages come back after ack_wait."""

    def ack(self) -> None:
        self.settled = True


class NackDoesNotCount(MemoryDelivery):
    """Redeliveries report delivery_count 1."""

    @property
    def delivery_count(self) -> int:
        return 1


class RejectRedelivers(MemoryDelivery):
    """reject() behaves like nack()."""

    def reject(self) -> None:
        self.nack()


class SettlingTwiceFails(MemoryDelivery):
    """A second settle raises."""

    def _settle(self, done: bool, delay: float | None = None) -> None:
        if self.settled:
            raise RuntimeError("already settled")
        super()._settle(done, delay)


class LosesOnClose(MemoryAckingSubscriber):
    """close() acknowledges what it holds instead of giving it back."""

    def release(self, delivery: MemoryDelivery) -> None:
        delivery.ack()


class NextMessageDoesNotAck(MemoryAckingSubscriber):
    """Plain next_message leaves the delivery unsettled."""

    def next_message(self, timeout: float | None = None) -> bytes:
        return self.next_delivery(timeout).message


class NeverRedeliversUnsettled(AckingBroker):
    """A delivery that is never settled is never handed out again."""

    def take(self, topics: Sequence[str], holder: object, timeout: float | None) -> Entry:
        entry = super().take(topics, holder, timeout)
        entry.visible_at = float("inf")
        return entry


def subscriber_with(delivery_class: type[MemoryDelivery]) -> type[MemoryAckingSubscriber]:
    return type(
        f"Subscriber{delivery_class.__name__}",
        (MemoryAckingSubscriber,),
        {"delivery_class": delivery_class},
    )


# -- asyncio forms ---------------------------------------------------------------------


class AsyncMemoryDelivery:
    def __init__(self, inner: MemoryDelivery) -> None:
        self._inner = inner

    message = property(lambda self: self._inner.message)
    topic = property(lambda self: self._inner.topic)
    delivery_count = property(lambda self: self._inner.delivery_count)
    settled = property(lambda self: self._inner.settled)

    async def ack(self) -> None:
        self._inner.ack()

    async def nack(self, delay: float | None = None) -> None:
        self._inner.nack(delay)

    async def reject(self) -> None:
        self._inner.reject()


class AsyncMemoryPublisher:
    def __init__(self, inner: MemoryAckingPublisher) -> None:
        self._inner = inner

    async def send_message(self, topic: str, message: Any) -> None:
        self._inner.send_message(topic, message)

    async def close(self) -> None:
        self._inner.close()


class AsyncMemorySubscriber:
    """Blocking waits run in a worker thread so the event loop stays free."""

    def __init__(self, inner: MemoryAckingSubscriber) -> None:
        self._inner = inner

    @property
    def topics(self) -> tuple[str, ...]:
        return self._inner.topics

    async def next_delivery(self, timeout: float | None = None) -> AsyncMemoryDelivery:
        import asyncio

        return AsyncMemoryDelivery(await asyncio.to_thread(self._inner.next_delivery, timeout))

    async def next_message(self, timeout: float | None = None) -> bytes:
        delivery = await self.next_delivery(timeout)
        await delivery.ack()
        return delivery.message

    def __aiter__(self) -> AsyncMemorySubscriber:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.next_message()
        except EOFError:
            raise StopAsyncIteration from None

    async def close(self) -> None:
        self._inner.close()
