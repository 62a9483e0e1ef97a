from __future__ import annotations

import queue
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from proxyflow.shims.queue import QueuePublisher, QueueSubscriber
from proxyflow.store import Store
from proxyflow.stream.events import Event, decode_event

# The tests import their in-process doubles (pfs_acking, pfs_connectors...) by name.
sys.path.insert(0, str(Path(__file__).parent))

from pfs_connectors import DelegatingConnector


class SpyConnector(DelegatingConnector):
    """Wraps a LocalConnector and counts the calls that reach storage."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: dict[str, int] = {"put": 0, "put_batch": 0, "evict": 0, "get_batch": 0}
        self.batch_sizes: list[int] = []

    def put(self, data: Any) -> Any:
        self.calls["put"] += 1
        return super().put(data)

    def put_batch(self, datas: Sequence[Any]) -> list[Any]:
        self.calls["put_batch"] += 1
        return super().put_batch(datas)

    def get_batch(self, keys: Sequence[Any], *, evict: bool = False) -> list[Any]:
        self.calls["get_batch"] += 1
        self.batch_sizes.append(len(keys))
        return super().get_batch(keys, evict=evict)

    def evict(self, key: Any) -> None:
        self.calls["evict"] += 1
        super().evict(key)


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
