"""No pyzmq error escapes a public method: each becomes a documented error of the shim."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import zmq

from proxyflow.api import BackendUnavailableError, ProxyflowError
from proxyflow.shims.zmq import (
    InvalidContextError,
    PublisherClosedError,
    SocketFailedError,
    SubscriberClosedError,
    ZeroMQPublisher,
    ZeroMQSubscriber,
)


class Terminator:
    """Runs ``context.term()`` in a thread: it returns once every socket is closed."""

    def __init__(self, context: zmq.Context[Any]) -> None:
        self.thread = threading.Thread(target=context.term, daemon=True)

    def __enter__(self) -> Terminator:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join(10)
        assert not self.thread.is_alive(), "term() must finish: the shim released its socket"


@pytest.fixture
def shared() -> Iterator[zmq.Context[Any]]:
    context: zmq.Context[Any] = zmq.Context()
    yield context
    if not context.closed:
        context.destroy(linger=0)


def call_until_it_fails(call: Callable[[], object]) -> None:
    """Call ``call`` until it raises (a terminating context makes it fail soon), at most 10 s."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        call()


PUBLISHER_CALLS: dict[str, Callable[[ZeroMQPublisher], object]] = {
    "send_message": lambda p: p.send_message("t", b"x"),
    "subscriber_count": lambda p: p.subscriber_count("t"),
    "wait_for_subscribers": lambda p: p.wait_for_subscribers(5, "t", timeout=5),
}


@pytest.mark.parametrize("call", sorted(PUBLISHER_CALLS))
def test_a_terminated_context_closes_the_publisher(shared: zmq.Context[Any], call: str) -> None:
    publisher = ZeroMQPublisher("tcp://127.0.0.1:*", context=shared, linger=0)
    with (
        Terminator(shared),
        pytest.raises(PublisherClosedError, match="context was terminated"),
    ):
        call_until_it_fails(lambda: PUBLISHER_CALLS[call](publisher))
    assert publisher.closed
    publisher.close()  # still fine
    with pytest.raises(PublisherClosedError):
        publisher.send_message("t", b"after")


def test_a_terminated_context_ends_a_blocked_send(shared: zmq.Context[Any]) -> None:
    publisher = ZeroMQPublisher(
        "tcp://127.0.0.1:*", context=shared, sndhwm=1, send_timeout=None, linger=0
    )
    subscriber = ZeroMQSubscriber(publisher.address, "t", rcvhwm=1, context=shared)
    publisher.wait_for_subscribers(1, "t")
    outcome: queue.Queue[BaseException] = queue.Queue()

    def flood() -> None:
        try:
            while True:
                publisher.send_message("t", bytes(65536))
        except BaseException as exc:
            outcome.put(exc)

    sender = threading.Thread(target=flood)
    sender.start()
    with pytest.raises(queue.Empty):
        outcome.get(timeout=0.3)  # blocked on the stalled subscriber
    with Terminator(shared):
        error = outcome.get(timeout=10)
        subscriber.close()
    sender.join(5)
    assert isinstance(error, PublisherClosedError)


@pytest.mark.parametrize("how", ["next_message", "iteration"])
def test_a_terminated_context_closes_the_subscriber(shared: zmq.Context[Any], how: str) -> None:
    subscriber = ZeroMQSubscriber("tcp://127.0.0.1:1", "t", context=shared, poll_interval=0.05)
    with Terminator(shared):
        if how == "iteration":
            assert list(subscriber) == []  # EOF ends iteration
        else:
            with pytest.raises(SubscriberClosedError, match="context was terminated"):
                subscriber.next_message(timeout=5)
    assert subscriber.closed
    subscriber.close()


def test_a_reader_in_another_thread_ends_when_the_context_is_terminated(
    shared: zmq.Context[Any],
) -> None:
    subscriber = ZeroMQSubscriber("tcp://127.0.0.1:1", "t", context=shared)
    outcome: queue.Queue[BaseException] = queue.Queue()
    started = threading.Event()

    def read() -> None:
        started.set()
        try:
            subscriber.next_message()
        except BaseException as exc:
            outcome.put(exc)

    reader = threading.Thread(target=read)
    reader.start()
    assert started.wait(5)
    with Terminator(shared):
        assert isinstance(outcome.get(timeout=10), SubscriberClosedError)
    reader.join(5)


def test_a_terminated_context_given_at_construction_is_refused() -> None:
    context: zmq.Context[Any] = zmq.Context()
    context.term()
    with pytest.raises(InvalidContextError, match="terminated"):
        ZeroMQPublisher("tcp://127.0.0.1:*", context=context)
    with pytest.raises(InvalidContextError, match="terminated"):
        ZeroMQSubscriber("tcp://127.0.0.1:1", "t", context=context)


def test_running_out_of_sockets_is_a_typed_error() -> None:
    context: zmq.Context[Any] = zmq.Context()
    context.set(zmq.MAX_SOCKETS, 1)
    try:
        with ZeroMQPublisher("tcp://127.0.0.1:*", context=context, linger=0) as publisher:
            for make in (
                lambda: ZeroMQPublisher("tcp://127.0.0.1:*", context=context),
                lambda: ZeroMQSubscriber(publisher.address, "t", context=context),
            ):
                with pytest.raises(SocketFailedError) as caught:
                    make()
                assert isinstance(caught.value, BackendUnavailableError)
                assert isinstance(caught.value, ProxyflowError)
                assert "creating its socket" in str(caught.value)
    finally:
        context.term()
