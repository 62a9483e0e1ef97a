from __future__ import annotations

import queue
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from proxyflow.connectors.local import LocalConnector
from proxyflow.shims.queue import QueuePublisher, QueueSubscriber
from proxyflow.store import Store
from proxyflow.stream.events import Event, decode_event


class SpyConnector:
    """Wraps a LocalConnector and counts the calls that reach storage."""

    kind = "local"

    def __init__(self) -> None:
        self.inner = LocalConnector()
        self.calls: dict[str, int] = {"put": 0, "put_batch": 0, "evict": 0, "get_batch": 0}
        self.batch_sizes: list[int] = []

    def put(self, data: Any) -> Any:
        self.calls["put"] += 1
        return self.inner.put(data)

    def put_batch(self, datas: Sequence[Any]) -> list[Any]:
        self.calls["put_batch"] += 1
        return self.inner.put_batch(datas)

    def get(self, key: Any, *, evict: bool = False) -> Any:
        return self.inner.get(key, evict=evict)

    def get_batch(self, keys: Sequence[Any], *, evict: bool = False) -> list[Any]:
        self.calls["get_batch"] += 1
        self.batch_sizes.append(len(keys))
        return self.inner.get_batch(keys, evict=evict)

    def exists(self, key: Any) -> bool:
        return self.inner.exists(key)

    def evict(self, key: Any) -> None:
        self.calls["evict"] += 1
        self.inner.evict(key)

    def config(self) -> dict[str, Any]:
        return self.inner.config()

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LocalConnector:
        return LocalConnector.from_config(config)

    def close(self) -> None:
        self.inner.close()


class RecordingPublisher:
    """A QueuePublisher that also keeps a copy of every message it sends."""

    def __init__(self, queues: dict[str, queue.Queue[Any]]) -> None:
        self.inner = QueuePublisher(queues)
        self.sent: list[tuple[str, bytes]] = []
        self.closed = False

    def send_message(self, topic: str, message: Any) -> None:
        self.inner.send_message(topic, message)
        self.sent.append((topic, bytes(message)))

    def events(self) -> list[Event]:
        return [decode_event(message) for _, message in self.sent]

    def close(self) -> None:
        self.closed = True
        self.inner.close()


@pytest.fixture
def q() -> queue.Queue[Any]:
    return queue.Queue()


@pytest.fixture
def spy() -> SpyConnector:
    return SpyConnector()


@pytest.fixture
def store(spy: SpyConnector) -> Iterator[Store]:
    s = Store(f"stream-test-{uuid.uuid4().hex[:8]}", spy)
    yield s
    s.close()


TOPICS = ("t", "a", "b", "ab")


@pytest.fixture
def publisher(q: queue.Queue[Any]) -> RecordingPublisher:
    """A recording publisher sending topics t, a and b into ``q``."""
    return RecordingPublisher(dict.fromkeys(TOPICS, q))


@pytest.fixture
def new_publisher(q: queue.Queue[Any]) -> Callable[[], RecordingPublisher]:
    """Make more publishers into ``q`` (for several producers)."""
    return lambda: RecordingPublisher(dict.fromkeys(TOPICS, q))


@pytest.fixture
def new_subscriber(q: queue.Queue[Any]) -> Callable[..., QueueSubscriber]:
    """Make a subscriber on ``q`` announcing the given topics."""
    return lambda *topics: QueueSubscriber(q, topics=topics)
