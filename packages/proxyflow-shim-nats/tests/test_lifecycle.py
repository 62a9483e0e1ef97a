"""The shared event-loop thread: started lazily, stopped when unused, safe at fork and exit."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import threading

import pytest

from proxyflow.shims.nats import (
    JetStreamPublisher,
    JetStreamSubscriber,
    PublisherClosedError,
    SubscriberClosedError,
    UsedAfterForkError,
)
from proxyflow.shims.nats.loop import LoopRunner, acquire, release

LOOP_THREAD_SCRIPT = """
import sys, threading
from proxyflow.shims.nats import JetStreamPublisher, JetStreamSubscriber

def loop_threads():
    return sum(t.name == "proxyflow-nats-loop" for t in threading.enumerate())

url, stream = sys.argv[1], sys.argv[2]
counts = [loop_threads()]
publisher = JetStreamPublisher(url, stream=stream)
subscriber = JetStreamSubscriber(url, "a", durable="w", stream=stream)
counts.append(loop_threads())
publisher.send_message("a", b"x")
assert subscriber.next_message(timeout=5.0) == b"x"
publisher.close()
counts.append(loop_threads())  # the subscriber still uses it
subscriber.close()
subscriber.close()
counts.append(loop_threads())
again = JetStreamPublisher(url, stream=stream)  # a new loop starts on demand
counts.append(loop_threads())
again.close()
counts.append(loop_threads())
print(counts)
"""


def test_one_loop_thread_shared_and_stopped_when_unused(nats_url: str, stream: str) -> None:
    # In a fresh interpreter, so that objects of other tests cannot keep the loop alive.
    done = subprocess.run(
        [sys.executable, "-c", LOOP_THREAD_SCRIPT, nats_url, stream],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[0, 1, 1, 0, 1, 0]"


def test_closed_objects_raise_typed_errors(nats_url: str, stream: str) -> None:
    publisher = JetStreamPublisher(nats_url, stream=stream)
    publisher.close()
    with pytest.raises(PublisherClosedError):
        publisher.send_message("a", b"x")
    subscriber = JetStreamSubscriber(nats_url, "a", durable="w", stream=stream)
    subscriber.close()
    with pytest.raises(SubscriberClosedError):
        subscriber.next_message(timeout=1.0)
    assert list(subscriber) == []


def test_close_from_another_thread_ends_next_message(nats_url: str, stream: str) -> None:
    subscriber = JetStreamSubscriber(nats_url, "a", durable="w", stream=stream)
    errors: list[BaseException] = []

    def wait() -> None:
        try:
            subscriber.next_message()
        except BaseException as exc:
            errors.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    subscriber.close()
    waiter.join(10)
    assert not waiter.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], EOFError)


def test_a_call_from_the_loop_thread_is_refused() -> None:
    class Owner:
        def close(self) -> None:
            pass

    owner = Owner()
    runner: LoopRunner = acquire(owner)
    try:

        async def nested() -> None:
            async def inner() -> None:
                pass

            runner.run(inner())

        with pytest.raises(RuntimeError, match="own event loop thread"):
            runner.run(nested())
    finally:
        release(runner, owner)


def _child_after_fork(url: str, stream: str, inherited: JetStreamPublisher, out: object) -> None:
    queue = out  # a multiprocessing queue
    try:
        inherited.send_message("a", b"from the parent's object")
        result = "used the parent's object"
    except UsedAfterForkError:
        result = "UsedAfterForkError"
    inherited.close()  # only marks it closed: the parent's connection is untouched
    own = JetStreamPublisher(url, stream=stream)
    own.send_message("a", b"from the child")
    own.close()
    queue.put(result)  # type: ignore[attr-defined]


def test_a_forked_child_gets_its_own_loop_and_refuses_the_parents_objects(
    nats_url: str, stream: str
) -> None:
    context = multiprocessing.get_context("fork")
    publisher = JetStreamPublisher(nats_url, stream=stream)
    subscriber = JetStreamSubscriber(nats_url, "a", durable="w", stream=stream)
    try:
        publisher.send_message("a", b"before the fork")
        queue = context.Queue()
        child = context.Process(target=_child_after_fork, args=(nats_url, stream, publisher, queue))
        child.start()
        assert queue.get(timeout=30) == "UsedAfterForkError"
        child.join(30)
        assert child.exitcode == 0
        publisher.send_message("a", b"after the fork")  # the parent's object still works
        received = [subscriber.next_message(timeout=5.0) for _ in range(3)]
        assert received[0] == b"before the fork"
        assert sorted(received[1:]) == [b"after the fork", b"from the child"]
    finally:
        publisher.close()
        subscriber.close()


SPAWNED_CHILD = """
import multiprocessing, sys
from proxyflow.shims.nats import JetStreamPublisher

def child(url, stream):
    with JetStreamPublisher(url, stream=stream) as publisher:
        publisher.send_message("a", b"spawned")

if __name__ == "__main__":
    process = multiprocessing.get_context("spawn").Process(target=child, args=sys.argv[1:3])
    process.start()
    process.join(60)
    sys.exit(process.exitcode)
"""


def test_a_spawned_child_works(nats_url: str, stream: str, tmp_path) -> None:
    script = tmp_path / "spawning.py"  # spawn re-imports the main module: it needs a file
    script.write_text(SPAWNED_CHILD)
    subscriber = JetStreamSubscriber(nats_url, "a", durable="w", stream=stream)
    try:
        done = subprocess.run(
            [sys.executable, str(script), nats_url, stream],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert subscriber.next_message(timeout=5.0) == b"spawned"
    finally:
        subscriber.close()


EXIT_SCRIPT = """
import sys
from proxyflow.shims.nats import JetStreamPublisher, JetStreamSubscriber
url, stream = sys.argv[1], sys.argv[2]
publisher = JetStreamPublisher(url, stream=stream, max_pending_acks=16)
subscriber = JetStreamSubscriber(url, "a", durable="w", stream=stream, ack_wait=60.0)
publisher.send_message("a", b"held at exit")
for i in range(10):
    publisher.send_message("b", b"pipelined %d" % i)
delivery = subscriber.next_delivery(timeout=5.0)
print("holding", delivery.message.decode(), flush=True)
# exit without closing anything and without settling the delivery
"""


def test_interpreter_exit_closes_open_objects_without_hanging(nats_url: str, stream: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, nats_url, stream],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "holding held at exit"
    # Closed at exit: the delivery was given back (long before its 60 s ack_wait)
    # and the pipelined sends were confirmed.
    other = JetStreamSubscriber(nats_url, "a", durable="w", stream=stream, ack_wait=60.0)
    pipelined = JetStreamSubscriber(nats_url, "b", durable="w", stream=stream, ack_wait=60.0)
    try:
        delivery = other.next_delivery(timeout=10.0)
        assert (delivery.message, delivery.delivery_count) == (b"held at exit", 2)
        delivery.ack()
        assert [pipelined.next_message(timeout=5.0) for _ in range(10)] == [
            b"pipelined %d" % i for i in range(10)
        ]
    finally:
        other.close()
        pipelined.close()
