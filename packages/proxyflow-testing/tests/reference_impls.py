"""Minimal in-memory implementations the contract suites are checked against.

Like any third-party connector or shim they satisfy the protocols
structurally; of proxyflow they import only ``proxyflow.api``, for the error a
full storage raises.
"""

from __future__ import annotations

import itertools
import queue
import threading
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
