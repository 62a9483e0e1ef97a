"""Errors of the queues themselves never escape: each is a documented error of the shim."""

from __future__ import annotations

import multiprocessing

import pytest

from proxyflow.api import BackendUnavailableError
from proxyflow.shims.queue import (
    QueuePublisher,
    QueueShimError,
    QueueSubscriber,
    QueueUnavailableError,
    SubscriberClosedError,
)

SPAWN = multiprocessing.get_context("spawn")


def test_a_manager_queue_whose_manager_exited_is_unavailable() -> None:
    manager = SPAWN.Manager()
    q = manager.Queue()
    publisher = QueuePublisher({"t": q})
    subscriber = QueueSubscriber(q, topics=["t"], poll_interval=0.05)
    publisher.send_message("t", b"before")
    assert subscriber.next_message(timeout=5) == b"before"
    manager.shutdown()
    with pytest.raises(QueueUnavailableError, match="'t'") as caught:
        publisher.send_message("t", b"after")
    assert isinstance(caught.value, BackendUnavailableError)
    assert isinstance(caught.value, ConnectionError)
    with pytest.raises(QueueUnavailableError, match="manager"):
        subscriber.next_message(timeout=1)
    with pytest.raises(QueueUnavailableError):
        next(iter(subscriber))  # iteration does not end as if the stream had ended


def test_a_closed_multiprocessing_queue_is_unavailable_to_a_publisher() -> None:
    q = SPAWN.Queue()
    q.close()
    with pytest.raises(QueueUnavailableError, match="closed") as caught:
        QueuePublisher({"t": q}).send_message("t", b"late")
    assert isinstance(caught.value, QueueShimError)
    with pytest.raises(SubscriberClosedError):  # a reader of a queue closed here sees EOF
        QueueSubscriber(q, topics=["t"]).next_message(timeout=1)
