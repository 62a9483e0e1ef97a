"""Minimal in-memory implementations the contract suites are checked against.

Like any third-party connector or shim they satisfy the protocols
structurally; of proxyflow they import only ``proxyflow.api``, for the error a
full storage raises.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, ClassVar

from proxyflow.api import BackendFullError

_counter = itertools.count()


class DictConnector:
    """A correct, thread-safe, in-process connector."""

    kind: ClassVar[str] = "test-dict"
    _instances: ClassVar[dict[str, DictConnector]] = {}

    def __init__(self, name: str = "default") -> None:
        self._name = name
        self._data: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.room: int | None = None  # objects that still fit; None: unlimited
        DictConnector._instances[name] = self

    def put(self, data: Any) -> str:
        key = f"k{next(_counter)}"
        with self._lock:
            if self.room is not None:
                if self.room <= 0:
                    raise BackendFullError("the dict is full")
                self.room -= 1
            self._data[key] = bytes(data)
        return key

    def put_batch(self, datas: Sequence[Any]) -> list[str]:
        keys: list[str] = []
        try:
            for data in datas:
                keys.append(self.put(data))
        except BackendFullError:
            for key in keys:
                self.evict(key)
            raise
        return keys

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"objects": len(self._data), "bytes": sum(map(len, self._data.values()))}

    def get(self, key: str, *, evict: bool = False) -> bytes | None:
        with self._lock:
            return self._data.pop(key, None) if evict else self._data.get(key)

    def get_batch(self, keys: Sequence[str], *, evict: bool = False) -> list[bytes | None]:
        return [self.get(key, evict=evict) for key in keys]

    def exists(self, key: str) -> bool:
        with self._lock:
            return key in self._data

    def evict(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def config(self) -> dict[str, Any]:
        return {"name": self._name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DictConnector:
        return cls._instances[config["name"]]

    def close(self) -> None:
        pass


class OrphaningConnector(DictConnector):
    """Broken on purpose: a failed ``put_batch`` keeps what it stored before failing."""

    def put_batch(self, datas: Sequence[Any]) -> list[str]:
        return [self.put(data) for data in datas]


class ForgetfulConnector(DictConnector):
    """Broken on purpose: ``get(evict=True)`` returns the object but keeps it."""

    def get(self, key: str, *, evict: bool = False) -> bytes | None:
        return super().get(key, evict=False)


class FanOutBroker:
    """A correct in-process fan-out broker: a queue per subscriber."""

    def __init__(self) -> None:
        self.subscribers: list[MemorySubscriber] = []
        self.lock = threading.Lock()


class MemoryPublisher:
    def __init__(self, broker: FanOutBroker) -> None:
        self._broker = broker
        self._closed = False

    def send_message(self, topic: str, message: Any) -> None:
        if self._closed:
            raise RuntimeError("publisher closed")
        with self._broker.lock:
            targets = [s for s in self._broker.subscribers if topic in s.topics]
        for subscriber in targets:
            subscriber.inbox.put(bytes(message))

    def close(self) -> None:
        self._closed = True


class MemorySubscriber:
    def __init__(self, broker: FanOutBroker, topics: Sequence[str]) -> None:
        self._topics = tuple(topics)
        self.inbox: queue.Queue[bytes | None] = queue.Queue()
        self._closed = False
        self._broker = broker
        with broker.lock:
            broker.subscribers.append(self)

    @property
    def topics(self) -> tuple[str, ...]:
        return self._topics

    def next_message(self, timeout: float | None = None) -> bytes:
        if self._closed:
            raise EOFError("subscriber closed")
        try:
            message = self.inbox.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError("no message") from None
        if message is None:
            raise EOFError("subscriber closed")
        return message

    def __iter__(self) -> MemorySubscriber:
        return self

    def __next__(self) -> bytes:
        try:
            return self.next_message()
        except EOFError:
            raise StopIteration from None

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.inbox.put(None)
            with self._broker.lock:
                self._broker.subscribers.remove(self)


class AsyncFanOutPublisher:
    """The asyncio form of ``MemoryPublisher``."""

    def __init__(self, broker: FanOutBroker) -> None:
        self._inner = MemoryPublisher(broker)

    async def send_message(self, topic: str, message: Any) -> None:
        self._inner.send_message(topic, message)

    async def close(self) -> None:
        self._inner.close()


class AsyncFanOutSubscriber:
    """The asyncio form of ``MemorySubscriber``; waits run in a worker thread."""

    def __init__(self, broker: FanOutBroker, topics: Sequence[str]) -> None:
        self._inner = MemorySubscriber(broker, topics)

    @property
    def topics(self) -> tuple[str, ...]:
        return self._inner.topics

    async def next_message(self, timeout: float | None = None) -> bytes:
        import asyncio

        return await asyncio.to_thread(self._inner.next_message, timeout)

    def __aiter__(self) -> AsyncFanOutSubscriber:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.next_message()
        except EOFError:
            raise StopAsyncIteration from None

    async def close(self) -> None:
        self._inner.close()


class WorkSharingBroker:
    """A correct in-process work-sharing broker: one queue per topic, a roster per topic."""

    def __init__(self) -> None:
        self.queues: dict[str, deque[bytes]] = {}
        self.rosters: dict[str, dict[bytes, set[str]]] = {}
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)

    def put(self, topic: str, message: bytes) -> None:
        with self.arrived:
            self.queues.setdefault(topic, deque()).append(message)
            self.arrived.notify_all()

    def take(self, topics: Sequence[str], timeout: float | None, closed: Any) -> bytes:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.arrived:
            while not closed():
                for topic in topics:
                    if self.queues.get(topic):
                        return self.queues[topic].popleft()
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError("no message")
                self.arrived.wait(0.1 if left is None else min(left, 0.1))
        raise EOFError("subscriber closed")

    def record(self, topic: str, producer_id: bytes, kind: str) -> None:
        if not isinstance(producer_id, bytes) or not producer_id:
            raise ValueError("a producer id must be non-empty bytes")
        with self.lock:
            self.rosters.setdefault(topic, {}).setdefault(producer_id, set()).add(kind)

    def roster(self, topic: str) -> Roster:
        with self.lock:
            entries = dict(self.rosters.get(topic, {}))
        return Roster(
            frozenset(p for p, kinds in entries.items() if "join" in kinds),
            frozenset(p for p, kinds in entries.items() if "leave" in kinds),
        )


class Roster:
    """The roster shape (``proxyflow.api.Roster`` without importing it)."""

    def __init__(self, joined: frozenset[bytes], left: frozenset[bytes]) -> None:
        self.joined = joined
        self.left = left

    @property
    def complete(self) -> bool:
        return bool(self.joined) and self.joined <= self.left


class WorkSharingPublisher:
    def __init__(self, broker: WorkSharingBroker) -> None:
        self._broker = broker
        self._closed = False

    def send_message(self, topic: str, message: Any) -> None:
        if self._closed:
            raise RuntimeError("publisher closed")
        self._broker.put(topic, bytes(message))

    def join(self, topic: str, producer_id: bytes) -> None:
        self._broker.record(topic, producer_id, "join")

    def leave(self, topic: str, producer_id: bytes) -> None:
        self._broker.record(topic, producer_id, "leave")

    def close(self) -> None:
        self._closed = True


class WorkSharingSubscriber:
    def __init__(self, broker: WorkSharingBroker, topics: Sequence[str]) -> None:
        self._broker = broker
        self._topics = tuple(topics)
        self._closed = False

    @property
    def topics(self) -> tuple[str, ...]:
        return self._topics

    def roster(self, topic: str) -> Roster:
        return self._broker.roster(topic)

    def next_message(self, timeout: float | None = None) -> bytes:
        return self._broker.take(self._topics, timeout, lambda: self._closed)

    def __iter__(self) -> WorkSharingSubscriber:
        return self

    def __next__(self) -> bytes:
        try:
            return self.next_message()
        except EOFError:
            raise StopIteration from None

    def close(self) -> None:
        self._closed = True


class AsyncWorkSharingPublisher:
    """The asyncio form of ``WorkSharingPublisher``."""

    def __init__(self, broker: WorkSharingBroker) -> None:
        self._inner = WorkSharingPublisher(broker)

    async def send_message(self, topic: str, message: Any) -> None:
        self._inner.send_message(topic, message)

    async def join(self, topic: str, producer_id: bytes) -> None:
        self._inner.join(topic, producer_id)

    async def leave(self, topic: str, producer_id: bytes) -> None:
        self._inner.leave(topic, producer_id)

    async def close(self) -> None:
        self._inner.close()


class AsyncWorkSharingSubscriber:
    """The asyncio form of ``WorkSharingSubscriber``; waits run in a worker thread."""

    def __init__(self, broker: WorkSharingBroker, topics: Sequence[str]) -> None:
        self._inner = WorkSharingSubscriber(broker, topics)
        self._broker = broker

    @property
    def topics(self) -> tuple[str, ...]:
        return self._inner.topics

    async def next_message(self, timeout: float | None = None) -> bytes:
        import asyncio

        return await asyncio.to_thread(self._inner.next_message, timeout)

    async def roster(self, topic: str) -> Roster:
        return self._inner.roster(topic)

    def __aiter__(self) -> AsyncWorkSharingSubscriber:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.next_message()
        except EOFError:
            raise StopAsyncIteration from None

    async def close(self) -> None:
        self._inner.close()
