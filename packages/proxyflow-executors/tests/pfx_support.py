"""Helpers of the executors' tests: in-process sources, a stream maker, store counters.

A module of its own (not the conftest) so that test modules import it by a
unique name when several packages' tests run in one session.
"""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

SPAWN = multiprocessing.get_context("spawn")


class ListSource:
    """An in-process source of ``(metadata, item)`` pairs that cannot acknowledge.

    ``read`` counts the calls of ``next_with_metadata`` (the last one ends the
    stream); ``fail_at`` makes that call raise a ``ValueError`` instead.
    """

    def __init__(self, items: list[Any], *, fail_at: int | None = None) -> None:
        self.items = list(items)
        self.read = 0
        self.fail_at = fail_at
        self.asked = threading.Condition()

    def next_with_metadata(self) -> tuple[dict[str, Any], Any]:
        with self.asked:
            index = self.read
            self.read += 1
            self.asked.notify_all()
        if index == self.fail_at:
            raise ValueError(f"bad message at {index}")
        if index >= len(self.items):
            raise StopIteration
        return {"index": index}, self.items[index]

    def wait_asked(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until ``next_with_metadata`` was called ``count`` times."""
        with self.asked:
            return self.asked.wait_for(lambda: self.read >= count, timeout)


class AckingSource(ListSource):
    """A source that records acknowledgements (a test double of an acking consumer)."""

    def __init__(self, items: list[Any], **kwargs: Any) -> None:
        super().__init__(items, **kwargs)
        self.acked: list[Any] = []
        self.nacked: list[Any] = []
        self.lock = threading.Lock()

    def _index(self, item: Any) -> int:
        matches = [i for i, candidate in enumerate(self.items) if candidate is item]
        assert len(matches) == 1, "ack/nack must pass the very item handed out"
        return matches[0]

    def ack(self, item: Any) -> None:
        with self.lock:
            self.acked.append(self._index(item))

    def nack(self, item: Any, delay: float | None = None) -> None:
        with self.lock:
            self.nacked.append(self._index(item))


class RejectingSource(AckingSource):
    """An acking source with a dead-letter place."""

    def __init__(self, items: list[Any], **kwargs: Any) -> None:
        super().__init__(items, **kwargs)
        self.rejected: list[Any] = []

    def reject(self, item: Any) -> None:
        with self.lock:
            self.rejected.append(self._index(item))


class WatchedSource:
    """Wraps a consumer: counts reads and lets a test wait for them."""

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer
        self._read = consumer.next_with_metadata
        self.asked = 0
        self.changed = threading.Condition()

    def next_with_metadata(self) -> tuple[dict[str, Any], Any]:
        with self.changed:
            self.asked += 1
            self.changed.notify_all()
        return self._read()

    def wait_asked(self, count: int, timeout: float = 30.0) -> bool:
        """Wait until the dispatcher asked for ``count`` items (so submitted ``count - 1``)."""
        with self.changed:
            return self.changed.wait_for(lambda: self.asked >= count, timeout)


def produce(store: Any, objects: list[Any], topic: str = "items") -> Any:
    """Stream ``objects`` (evict=True) through a queue; return a consumer of them."""
    import queue

    from proxyflow.shims.queue import QueuePublisher, QueueSubscriber
    from proxyflow.stream import StreamConsumer, StreamProducer

    channel: queue.Queue[bytes] = queue.Queue()
    producer = StreamProducer(QueuePublisher({topic: channel}), default_store=store)
    for i, obj in enumerate(objects):
        producer.send(topic, obj, evict=True, metadata={"i": i})
    producer.close(topics=[topic], stores=False)  # the test's store stays open
    return StreamConsumer(QueueSubscriber(channel, topics=[topic]), timeout=30)


def reads(store: Any) -> int:
    """Reads this process made through ``store`` (single and batched)."""
    operations = store.metrics.snapshot()["operations"]
    return int(operations["get"]["count"] + operations["get_batch"]["count"])


class Redelivering:
    """A box holding one value: each delivery of a message is a new box (compared by identity)."""

    def __init__(self, value: Any, count: int) -> None:
        self.value = value
        self.count = count


class RedeliveringSource:
    """A broker-like source: a nacked item comes back as a new item with a higher count.

    Like a ``StreamConsumer`` over a durable broker, the end of the stream
    waits while items are held (they may still be given back).
    """

    def __init__(self, values: list[Any]) -> None:
        self.ready: list[tuple[Any, int]] = [(value, 1) for value in values]
        self.held: dict[int, Redelivering] = {}
        self.acked: list[Any] = []
        self.nacked: list[tuple[Any, float | None]] = []
        self.rejected: list[Any] = []
        self.cond = threading.Condition()

    def next_with_metadata(self) -> tuple[dict[str, Any], Any]:
        with self.cond:
            self.cond.wait_for(lambda: self.ready or not self.held, timeout=10)
            if not self.ready:
                raise StopIteration
            value, count = self.ready.pop(0)
            box = Redelivering(value, count)
            self.held[id(box)] = box
            return {"value": value}, box

    def delivery_count(self, item: Redelivering) -> int:
        return item.count

    def _settle(self, item: Redelivering) -> None:
        assert self.held.pop(id(item)) is item, "settle the very item handed out, once"
        self.cond.notify_all()

    def ack(self, item: Redelivering) -> None:
        with self.cond:
            self._settle(item)
            self.acked.append(item.value)

    def nack(self, item: Redelivering, delay: float | None = None) -> None:
        with self.cond:
            self._settle(item)
            self.nacked.append((item.value, delay))
            self.ready.append((item.value, item.count + 1))

    def reject(self, item: Redelivering) -> None:
        with self.cond:
            self._settle(item)
            self.rejected.append(item.value)
