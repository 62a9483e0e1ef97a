from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from proxyflow.shims.queue import QueuePublisher, QueueSubscriber
from proxyflow.testing import PublisherSubscriberContract, PubSub


def _harness(make_queue: Any) -> Iterator[PubSub]:
    queues: dict[str, Any] = {}
    subscribers: list[QueueSubscriber] = []
    made: list[Any] = []

    def subscribe(topics: Sequence[str]) -> QueueSubscriber:
        q = make_queue()
        made.append(q)
        queues.update(dict.fromkeys(topics, q))
        subscriber = QueueSubscriber(q, topics=topics)
        subscribers.append(subscriber)
        return subscriber

    publisher = QueuePublisher(queues)
    yield PubSub(publisher, subscribe)
    publisher.close()
    for subscriber in subscribers:
        subscriber.close()
    for q in made:
        if hasattr(q, "cancel_join_thread"):
            q.close()
            q.cancel_join_thread()


class TestThreadQueueContract(PublisherSubscriberContract):
    delivery = "point-to-point"

    @pytest.fixture
    def pubsub(self) -> Iterator[PubSub]:
        yield from _harness(queue.Queue)


class TestMultiprocessingQueueContract(PublisherSubscriberContract):
    delivery = "point-to-point"

    @pytest.fixture
    def pubsub(self) -> Iterator[PubSub]:
        yield from _harness(multiprocessing.get_context("spawn").Queue)
