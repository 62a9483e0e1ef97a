from __future__ import annotations

import errno
import multiprocessing
import os
import pickle
import queue
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

import proxyflow.shims.zmq as shim
from proxyflow.shims.zmq import (
    AddressInUseError,
    InvalidAddressError,
    InvalidTopicError,
    MalformedMessageError,
    PublisherClosedError,
    SubscriberClosedError,
    SubscriberTimeoutError,
    SubscriberWaitTimeoutError,
    WrongProcessError,
    ZeroMQPublisher,
    ZeroMQShimError,
    ZeroMQSubscriber,
)


@pytest.fixture
def publisher() -> Iterator[ZeroMQPublisher]:
    with ZeroMQPublisher("tcp://127.0.0.1:*") as pub:
        yield pub


def test_version_and_public_names() -> None:
    # A release version (X.Y.Z), bumped by `hatch run release:prepare`.
    assert re.fullmatch(r"\d+\.\d+\.\d+", shim.__version__)
    assert {"ZeroMQPublisher", "ZeroMQSubscriber", "AddressInUseError"} <= set(shim.__all__)


def test_error_hierarchy_uses_builtins() -> None:
    assert issubclass(AddressInUseError, OSError)
    assert issubclass(InvalidAddressError, ValueError)
    assert issubclass(InvalidTopicError, ValueError)
    assert issubclass(SubscriberTimeoutError, TimeoutError)
    assert issubclass(SubscriberWaitTimeoutError, TimeoutError)
    assert issubclass(SubscriberClosedError, EOFError)
    assert issubclass(PublisherClosedError, RuntimeError)
    assert issubclass(AddressInUseError, ZeroMQShimError)


def test_random_port_address_is_resolved(publisher: ZeroMQPublisher) -> None:
    assert publisher.address.startswith("tcp://127.0.0.1:")
    assert int(publisher.address.rsplit(":", 1)[1]) > 0


def test_address_in_use(publisher: ZeroMQPublisher) -> None:
    with pytest.raises(AddressInUseError) as info:
        ZeroMQPublisher(publisher.address)
    assert info.value.errno == errno.EADDRINUSE
    assert publisher.address in str(info.value)
    assert isinstance(info.value, OSError)


def test_invalid_addresses() -> None:
    with pytest.raises(InvalidAddressError):
        ZeroMQPublisher("nonsense://here")
    with pytest.raises(InvalidAddressError):
        ZeroMQSubscriber("nonsense://here", ["a"])


def test_ipc_address(tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = Path(tempfile_short())
    try:
        with ZeroMQPublisher(f"ipc://{folder}/s.sock") as pub:
            assert pub.address == f"ipc://{folder}/s.sock"
            with ZeroMQSubscriber(pub.address, "t") as sub:
                pub.wait_for_subscribers(1, "t")
                pub.send_message("t", b"over ipc")
                assert sub.next_message(timeout=5) == b"over ipc"
    finally:
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()


def tempfile_short() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="pf-")


def test_topics_match_exactly(publisher: ZeroMQPublisher) -> None:
    with (
        ZeroMQSubscriber(publisher.address, "a") as only_a,
        ZeroMQSubscriber(publisher.address, ["ab", ""]) as others,
    ):
        publisher.wait_for_subscribers(1, ["a", "ab", ""])
        for topic in ("ab", "", "a"):
            publisher.send_message(topic, f"on-{topic}".encode())
        assert only_a.next_message(timeout=5) == b"on-a"
        with pytest.raises(TimeoutError):
            only_a.next_message(timeout=0.2)
        assert sorted(others.next_message(timeout=5) for _ in range(2)) == [b"on-", b"on-ab"]


def test_wire_format_is_topic_nul_then_payload(publisher: ZeroMQPublisher) -> None:
    ctx = zmq.Context()
    raw = ctx.socket(zmq.SUB)
    raw.setsockopt(zmq.SUBSCRIBE, b"")
    raw.connect(publisher.address)
    try:
        publisher.wait_for_subscribers(1)
        publisher.send_message("tópic", b"payload")
        assert raw.poll(5000)
        assert raw.recv_multipart() == ["tópic".encode() + b"\x00", b"payload"]
    finally:
        raw.close(linger=0)
        ctx.term()


def test_nul_in_topic_is_rejected(publisher: ZeroMQPublisher) -> None:
    with pytest.raises(InvalidTopicError):
        publisher.send_message("a\x00b", b"x")
    with pytest.raises(InvalidTopicError):
        ZeroMQSubscriber(publisher.address, ["ok", "bad\x00"])
    with pytest.raises(TypeError):
        publisher.send_message(b"bytes", b"x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        publisher.send_message("a", "text")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ZeroMQSubscriber(publisher.address, [])


def test_messages_without_subscribers_are_dropped(publisher: ZeroMQPublisher) -> None:
    publisher.send_message("drop", b"nobody listens")
    with ZeroMQSubscriber(publisher.address, "drop") as sub:
        publisher.wait_for_subscribers(1, "drop")
        publisher.send_message("drop", b"seen")
        assert sub.next_message(timeout=5) == b"seen"
        with pytest.raises(TimeoutError):
            sub.next_message(timeout=0.2)


def test_wait_for_subscribers_counts_per_topic(publisher: ZeroMQPublisher) -> None:
    start = time.monotonic()
    with pytest.raises(SubscriberWaitTimeoutError, match="saw"):
        publisher.wait_for_subscribers(1, "w", timeout=0.2)
    assert time.monotonic() - start >= 0.15
    first = ZeroMQSubscriber(publisher.address, ["w", "x"])
    second = ZeroMQSubscriber(publisher.address, "w")
    publisher.wait_for_subscribers(2, "w")
    publisher.wait_for_subscribers(1, "x", exact=True)
    publisher.wait_for_subscribers(3)  # all subscriptions together
    assert publisher.subscriber_count("w") == 2
    assert publisher.subscriber_count("x") == 1
    assert publisher.subscriber_count("y") == 0
    first.close()
    second.close()
    publisher.wait_for_subscribers(0, ["w", "x"], exact=True)
    assert publisher.subscriber_count("w") == 0


def test_high_water_marks_are_configurable() -> None:
    with ZeroMQPublisher("tcp://127.0.0.1:*", sndhwm=7) as pub:
        assert pub.sndhwm == 7
        with ZeroMQSubscriber(pub.address, "t", rcvhwm=5) as sub:
            assert sub.rcvhwm == 5
    with pytest.raises(ValueError):
        ZeroMQPublisher("tcp://127.0.0.1:*", sndhwm=-1)


def test_large_messages_are_zero_copy_views(publisher: ZeroMQPublisher) -> None:
    big = bytes(range(256)) * 1024  # 256 KiB
    with ZeroMQSubscriber(publisher.address, "z") as sub:
        publisher.wait_for_subscribers(1, "z")
        publisher.send_message("z", memoryview(big))
        publisher.send_message("z", b"small")
        received = sub.next_message(timeout=5)
        assert isinstance(received, memoryview)
        assert received.nbytes == len(big)
        assert received == big
        small = sub.next_message(timeout=5)
        assert type(small) is bytes
        assert small == b"small"


def test_copy_threshold_is_configurable() -> None:
    with (
        ZeroMQPublisher("tcp://127.0.0.1:*", copy_threshold=10) as pub,
        ZeroMQSubscriber(pub.address, "c", copy_threshold=1 << 30) as sub,
    ):
        pub.wait_for_subscribers(1, "c")
        pub.send_message("c", bytearray(b"0123456789abcdef"))
        message = sub.next_message(timeout=5)
    assert type(message) is bytes
    assert message == b"0123456789abcdef"


def test_iteration_timeout_and_zero_timeout(publisher: ZeroMQPublisher) -> None:
    with ZeroMQSubscriber(publisher.address, "i", timeout=0.1) as sub:
        with pytest.raises(SubscriberTimeoutError):
            next(sub)
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            sub.next_message(timeout=0)
        assert time.monotonic() - start < 1


def test_close_from_another_thread_wakes_the_reader(publisher: ZeroMQPublisher) -> None:
    sub = ZeroMQSubscriber(publisher.address, "wake", poll_interval=0.02)
    outcome: queue.Queue[BaseException] = queue.Queue()
    started = threading.Event()

    def read() -> None:
        started.set()
        try:
            sub.next_message()
        except BaseException as exc:
            outcome.put(exc)

    thread = threading.Thread(target=read)
    thread.start()
    assert started.wait(5)
    sub.close()
    thread.join(5)
    assert not thread.is_alive()
    assert isinstance(outcome.get(timeout=1), EOFError)
    with pytest.raises(SubscriberClosedError):
        sub.next_message(timeout=0)


def test_given_context_is_not_terminated() -> None:
    ctx = zmq.Context()
    try:
        pub = ZeroMQPublisher("tcp://127.0.0.1:*", context=ctx)
        sub = ZeroMQSubscriber(pub.address, "t", context=ctx)
        sub.close()
        pub.close()
        assert not ctx.closed
        assert ctx.socket(zmq.PUB).close() is None
    finally:
        ctx.term()


def test_closed_publisher_raises(publisher: ZeroMQPublisher) -> None:
    publisher.close()
    publisher.close()
    with pytest.raises(PublisherClosedError):
        publisher.send_message("a", b"late")
    with pytest.raises(PublisherClosedError):
        publisher.wait_for_subscribers(0, timeout=0.1)


def test_objects_refuse_pickling(publisher: ZeroMQPublisher) -> None:
    with pytest.raises(TypeError, match="create it in the process"):
        pickle.dumps(publisher)
    with (
        ZeroMQSubscriber(publisher.address, "p") as sub,
        pytest.raises(TypeError, match="create it in the process"),
    ):
        pickle.dumps(sub)


def test_use_in_another_process_is_refused(publisher: ZeroMQPublisher) -> None:
    # Simulate a forked child by changing the recorded creator process id.
    publisher._pid = -1
    with pytest.raises(WrongProcessError):
        publisher.send_message("a", b"x")
    publisher._pid = os.getpid()


def test_malformed_messages_are_typed_errors() -> None:
    ctx = zmq.Context()
    raw = ctx.socket(zmq.PUB)
    port = raw.bind_to_random_port("tcp://127.0.0.1")
    try:
        with ZeroMQSubscriber(f"tcp://127.0.0.1:{port}", "m") as sub:
            # No XPUB here to confirm the subscription: resend until one arrives.
            deadline = time.monotonic() + 10
            error: MalformedMessageError | None = None
            while error is None and time.monotonic() < deadline:
                raw.send(b"m\x00")
                try:
                    sub.next_message(timeout=0.05)
                except MalformedMessageError as exc:
                    error = exc
                except TimeoutError:
                    continue
            assert error is not None, "no message arrived"
            assert "2 frames" in str(error)
    finally:
        raw.close(linger=0)
        ctx.term()


def test_subscriber_of_two_publishers() -> None:
    with (
        ZeroMQPublisher("tcp://127.0.0.1:*") as one,
        ZeroMQPublisher("tcp://127.0.0.1:*") as two,
        ZeroMQSubscriber([one.address, two.address], "t") as sub,
    ):
        assert sub.addresses == (one.address, two.address)
        one.wait_for_subscribers(1, "t")
        two.wait_for_subscribers(1, "t")
        one.send_message("t", b"from-one")
        two.send_message("t", b"from-two")
        assert sorted(sub.next_message(timeout=5) for _ in range(2)) == [b"from-one", b"from-two"]


def test_publisher_in_a_spawned_child(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    import zmq_shim_child

    ctx = multiprocessing.get_context("spawn")
    parent_end, child_end = ctx.Pipe()
    child = ctx.Process(target=zmq_shim_child.publish, args=(child_end, 20))
    child.start()
    try:
        assert parent_end.poll(30), "the child did not report its address"
        address = parent_end.recv()
        with ZeroMQSubscriber(address, "from-child") as sub:
            received = [sub.next_message(timeout=20) for _ in range(20)]
        parent_end.send("done")
    finally:
        child.join(30)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0
    assert received == [b"child-%d" % i for i in range(20)]


def test_malformed_message_leaves_the_next_message_intact() -> None:
    ctx = zmq.Context()
    raw = ctx.socket(zmq.PUB)
    port = raw.bind_to_random_port("tcp://127.0.0.1")
    try:
        with ZeroMQSubscriber(f"tcp://127.0.0.1:{port}", "m") as sub:
            deadline = time.monotonic() + 10
            error: MalformedMessageError | None = None
            while error is None and time.monotonic() < deadline:
                raw.send_multipart([b"m\x00", b"one", b"two"])
                try:
                    sub.next_message(timeout=0.05)
                except MalformedMessageError as exc:
                    error = exc
                except TimeoutError:
                    continue
            assert error is not None, "no message arrived"
            assert "got 3" in str(error)
            # Drop what the retry loop queued meanwhile, then a good message follows.
            while True:
                try:
                    sub.next_message(timeout=0.2)
                except MalformedMessageError:
                    continue
                except TimeoutError:
                    break
            raw.send_multipart([b"m\x00", b"good"])
            assert sub.next_message(timeout=5) == b"good"
    finally:
        raw.close(linger=0)
        ctx.term()


def test_alternating_timeouts_and_blocking_reads(publisher: ZeroMQPublisher) -> None:
    with ZeroMQSubscriber(publisher.address, "x", poll_interval=0.05) as sub:
        publisher.wait_for_subscribers(1, "x")
        for i in range(3):
            start = time.monotonic()
            with pytest.raises(SubscriberTimeoutError):
                sub.next_message(timeout=0.1)
            assert 0.05 <= time.monotonic() - start < 2
            with pytest.raises(SubscriberTimeoutError):
                sub.next_message(timeout=0)
            publisher.send_message("x", b"m%d" % i)
            assert sub.next_message(timeout=5) == b"m%d" % i
            publisher.send_message("x", b"n%d" % i)
            assert sub.next_message() == b"n%d" % i  # no timeout: waits in poll_interval steps


def test_subscriptions_are_counted_after_many_sends(publisher: ZeroMQPublisher) -> None:
    with ZeroMQSubscriber(publisher.address, "c") as first:
        publisher.wait_for_subscribers(1, "c")
        for _ in range(3000):  # several periodic reads of subscription notices
            publisher.send_message("c", b"x")
        second = ZeroMQSubscriber(publisher.address, "c")
        try:
            publisher.wait_for_subscribers(2, "c", timeout=10)
            assert publisher.subscriber_count("c") == 2
        finally:
            second.close()
        publisher.wait_for_subscribers(1, "c", exact=True, timeout=10)
        assert first.next_message(timeout=5) == b"x"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_process_id_is_refreshed_in_forked_children() -> None:
    from proxyflow.shims.zmq.sockets import current_pid

    assert current_pid() == os.getpid()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.write(write_end, b"1" if current_pid() == os.getpid() else b"0")
        os._exit(0)
    os.close(write_end)
    try:
        assert os.read(read_end, 1) == b"1"
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
