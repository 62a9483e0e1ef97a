"""ProxyStore's queue-shim code works the same, or fails loudly; the shared base's guarantees."""

from __future__ import annotations

import multiprocessing
import queue
from array import array
from typing import Any

import pytest

from proxyflow.api import BackendFullError, ProxyflowError
from proxyflow.shims.queue import (
    QueueFullError,
    QueuePublisher,
    QueueShimError,
    QueueSubscriber,
    SubscriberClosedError,
    SubscriberTimeoutError,
    UnknownTopicError,
)


def test_errors_are_proxyflow_errors_and_proxystore_ones() -> None:
    assert issubclass(QueueShimError, ProxyflowError)
    assert issubclass(QueueFullError, BackendFullError)
    # What ProxyStore's queue shim lets through keeps being caught.
    assert issubclass(QueueFullError, queue.Full)
    assert issubclass(SubscriberTimeoutError, queue.Empty)
    assert issubclass(UnknownTopicError, ValueError)


def test_proxystore_catches_still_work() -> None:
    q: queue.Queue[bytes] = queue.Queue(maxsize=1)
    publisher = QueuePublisher({"a": q}, block=False)
    publisher.send_message("a", b"first")
    with pytest.raises(queue.Full):
        publisher.send_message("a", b"second")
    with pytest.raises(ValueError, match="unknown topic 'b'"):
        publisher.send_message("b", b"x")
    subscriber = QueueSubscriber(q, block=False)
    assert subscriber.next_message() == b"first"
    with pytest.raises(queue.Empty):
        subscriber.next_message()


def test_next_message_without_argument_waits_as_configured() -> None:
    # ProxyStore: QueueSubscriber(q, timeout=t).next_message() gives up after t.
    q: queue.Queue[bytes] = queue.Queue()
    subscriber = QueueSubscriber(q, timeout=0.05)
    with pytest.raises(SubscriberTimeoutError, match=r"within 0\.05s"):
        subscriber.next_message()
    q.put(b"there")
    assert subscriber.next_message() == b"there"


def test_closed_multiprocessing_queue_ends_the_subscriber() -> None:
    ctx = multiprocessing.get_context("spawn")
    q: multiprocessing.Queue[bytes] = ctx.Queue()
    q.close()
    q.join_thread()
    subscriber = QueueSubscriber(q, topics=["t"])
    with pytest.raises(SubscriberClosedError, match="closed"):
        subscriber.next_message(timeout=1)
    assert list(subscriber) == []


class _ClosesWhileTaking:
    """A queue whose get() closes the subscriber, as a close() from another thread would."""

    def __init__(self) -> None:
        self.subscriber: QueueSubscriber | None = None

    def put(self, item: Any, /, block: bool = True, timeout: float | None = None) -> None:
        raise AssertionError("not used")

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        assert self.subscriber is not None
        self.subscriber.close()
        return b"taken"


def test_message_taken_while_closing_is_returned_not_lost() -> None:
    source = _ClosesWhileTaking()
    subscriber = QueueSubscriber(source)
    source.subscriber = subscriber
    assert subscriber.next_message(timeout=1) == b"taken"
    assert subscriber.closed
    with pytest.raises(SubscriberClosedError):
        subscriber.next_message(timeout=1)


def test_message_checks_are_the_other_shims_ones() -> None:
    q: queue.Queue[bytes] = queue.Queue()
    publisher = QueuePublisher({"a": q})
    publisher.send_message("a", memoryview(array("d", [1.0])))
    assert q.get_nowait() == array("d", [1.0]).tobytes()
    with pytest.raises(ValueError, match="C-contiguous"):
        publisher.send_message("a", memoryview(array("i", [1, 2, 3, 4])).cast("B").cast("i")[::2])
    assert q.empty()
