from __future__ import annotations

import multiprocessing
import queue
import re
import threading
import time
from pathlib import Path

import pytest

import proxyflow.shims.queue as shim
from proxyflow.shims.queue import (
    PublisherClosedError,
    QueueFullError,
    QueuePublisher,
    QueueShimError,
    QueueSubscriber,
    SubscriberClosedError,
    SubscriberTimeoutError,
    UnexpectedItemError,
    UnknownTopicError,
)


def test_version_and_public_names() -> None:
    # A release version (X.Y.Z), bumped by `hatch run release:prepare`.
    assert re.fullmatch(r"\d+\.\d+\.\d+", shim.__version__)
    assert set(shim.__all__) >= {"QueuePublisher", "QueueSubscriber", "UnknownTopicError"}


def test_error_hierarchy_uses_builtins() -> None:
    assert issubclass(UnknownTopicError, KeyError)
    assert issubclass(QueueFullError, TimeoutError)
    assert issubclass(SubscriberTimeoutError, TimeoutError)
    assert issubclass(SubscriberClosedError, EOFError)
    assert issubclass(PublisherClosedError, RuntimeError)
    assert issubclass(UnexpectedItemError, TypeError)
    for cls in (UnknownTopicError, QueueFullError, PublisherClosedError):
        assert issubclass(cls, QueueShimError)


def test_unknown_topic_names_it_and_the_known_ones() -> None:
    q: queue.Queue[bytes] = queue.Queue()
    publisher = QueuePublisher({"b": q, "a": q})
    with pytest.raises(UnknownTopicError) as info:
        publisher.send_message("c", b"x")
    assert info.value.topic == "c"
    assert info.value.known == ("a", "b")
    assert str(info.value) == "unknown topic 'c'; known topics: ['a', 'b']"
    assert q.empty()


def test_full_queue_without_blocking_raises_and_keeps_queue() -> None:
    q: queue.Queue[bytes] = queue.Queue(maxsize=1)
    publisher = QueuePublisher({"a": q}, block=False)
    publisher.send_message("a", b"first")
    with pytest.raises(QueueFullError):
        publisher.send_message("a", b"second")
    assert q.get_nowait() == b"first"


def test_full_queue_with_timeout_raises_after_timeout() -> None:
    q: queue.Queue[bytes] = queue.Queue(maxsize=1)
    publisher = QueuePublisher({"a": q}, timeout=0.1)
    publisher.send_message("a", b"first")
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        publisher.send_message("a", b"second")
    assert time.monotonic() - start >= 0.09


def test_blocking_send_waits_for_room() -> None:
    q: queue.Queue[bytes] = queue.Queue(maxsize=1)
    publisher = QueuePublisher({"a": q}, timeout=5.0)
    publisher.send_message("a", b"first")
    sent = threading.Event()

    def send() -> None:
        publisher.send_message("a", b"second")
        sent.set()

    thread = threading.Thread(target=send)
    thread.start()
    assert not sent.wait(0.1)
    assert q.get(timeout=1) == b"first"
    assert sent.wait(5)
    thread.join(5)
    assert q.get(timeout=1) == b"second"


def test_messages_are_put_as_bytes() -> None:
    q: queue.Queue[bytes] = queue.Queue()
    publisher = QueuePublisher({"a": q})
    publisher.send_message("a", memoryview(b"view"))
    publisher.send_message("a", bytearray(b"array"))
    first, second = q.get_nowait(), q.get_nowait()
    assert (type(first), first) == (bytes, b"view")
    assert (type(second), second) == (bytes, b"array")


def test_non_bytes_message_is_a_type_error() -> None:
    q: queue.Queue[bytes] = queue.Queue()
    publisher = QueuePublisher({"a": q})
    with pytest.raises(TypeError, match="str"):
        publisher.send_message("a", "text")  # type: ignore[arg-type]
    assert q.empty()


def test_close_leaves_queue_open_and_filled() -> None:
    q: queue.Queue[bytes] = queue.Queue()
    publisher = QueuePublisher({"a": q})
    publisher.send_message("a", b"kept")
    publisher.close()
    assert publisher.closed
    with pytest.raises(PublisherClosedError):
        publisher.send_message("a", b"late")
    assert q.get_nowait() == b"kept"


def test_context_managers_close() -> None:
    q: queue.Queue[bytes] = queue.Queue()
    with QueuePublisher({"a": q}) as publisher, QueueSubscriber(q) as subscriber:
        pass
    assert publisher.closed
    assert subscriber.closed


def test_bad_arguments() -> None:
    q: queue.Queue[bytes] = queue.Queue()
    with pytest.raises(ValueError):
        QueuePublisher({"a": q}, timeout=-1)
    with pytest.raises(ValueError):
        QueueSubscriber(q, timeout=-1)
    with pytest.raises(ValueError):
        QueueSubscriber(q, poll_interval=0)
    with pytest.raises(ValueError):
        QueueSubscriber(q).next_message(timeout=-1)


def test_single_string_topic_is_one_topic() -> None:
    q: queue.Queue[bytes] = queue.Queue()
    assert QueueSubscriber(q, topics="events").topics == ("events",)  # type: ignore[arg-type]


def test_iteration_timeout_from_constructor() -> None:
    q: queue.Queue[bytes] = queue.Queue()
    subscriber = QueueSubscriber(q, timeout=0.1)
    with pytest.raises(SubscriberTimeoutError):
        next(subscriber)


def test_iteration_without_blocking() -> None:
    q: queue.Queue[bytes] = queue.Queue()
    q.put(b"one")
    subscriber = QueueSubscriber(q, block=False)
    assert next(subscriber) == b"one"
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        next(subscriber)
    assert time.monotonic() - start < 1.0


def test_next_message_zero_timeout() -> None:
    q: queue.Queue[bytes] = queue.Queue()
    subscriber = QueueSubscriber(q)
    with pytest.raises(SubscriberTimeoutError):
        subscriber.next_message(timeout=0)
    q.put(b"x")
    assert subscriber.next_message(timeout=0) == b"x"


def test_close_from_another_thread_wakes_a_blocked_reader() -> None:
    q: queue.Queue[bytes] = queue.Queue()
    subscriber = QueueSubscriber(q, poll_interval=0.02)
    outcome: queue.Queue[BaseException] = queue.Queue()

    def read() -> None:
        try:
            subscriber.next_message()
        except BaseException as exc:
            outcome.put(exc)

    thread = threading.Thread(target=read)
    thread.start()
    subscriber.close()
    thread.join(5)
    assert not thread.is_alive()
    assert isinstance(outcome.get(timeout=1), EOFError)


def test_foreign_item_is_a_typed_error() -> None:
    q: queue.Queue[object] = queue.Queue()
    q.put({"not": "bytes"})
    q.put(bytearray(b"ok"))
    subscriber = QueueSubscriber(q)
    with pytest.raises(UnexpectedItemError, match="dict"):
        subscriber.next_message(timeout=1)
    assert subscriber.next_message(timeout=1) == b"ok"


def test_child_process_publishes_through_a_multiprocessing_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The spawned child must import its target by name, and test modules are not
    # importable under --import-mode=importlib: put the helper's folder on sys.path.
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    import queue_shim_child

    ctx = multiprocessing.get_context("spawn")
    q: multiprocessing.Queue[bytes] = ctx.Queue()
    child = ctx.Process(target=queue_shim_child.publish, args=(q, 50))
    child.start()
    try:
        subscriber = QueueSubscriber(q, topics=["work"])
        received = [subscriber.next_message(timeout=20) for _ in range(51)]
    finally:
        child.join(20)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0
    assert received[:50] == [b"item-%d" % i for i in range(50)]
    assert received[50] == queue_shim_child.BIG
    q.close()
    q.join_thread()
