"""ProxyStore's (address, port) call forms work with the same meaning, or fail loudly."""

from __future__ import annotations

import pytest

from proxyflow.api import ProxyflowError
from proxyflow.shims.zmq import (
    SubscriberTimeoutError,
    WrongProcessError,
    ZeroMQPublisher,
    ZeroMQShimError,
    ZeroMQSubscriber,
)


def test_errors_are_proxyflow_errors() -> None:
    assert issubclass(ZeroMQShimError, ProxyflowError)


def test_address_port_forms_bind_and_connect_tcp() -> None:
    with ZeroMQPublisher("127.0.0.1", 0) as publisher:  # 0: any free port
        host, port = publisher.address.removeprefix("tcp://").rsplit(":", 1)
        assert host == "127.0.0.1"
        with ZeroMQSubscriber("127.0.0.1", int(port), topic="events") as subscriber:
            assert subscriber.addresses == (publisher.address,)
            assert subscriber.topics == ("events",)
            publisher.wait_for_subscribers(1, "events", timeout=5.0)
            publisher.send_message("events", b"hello")
            assert subscriber.next_message(timeout=5.0) == b"hello"
        with ZeroMQSubscriber("127.0.0.1", port=int(port), topic=["a", "b"]) as by_keyword:
            assert by_keyword.topics == ("a", "b")


def test_next_message_without_argument_waits_as_configured() -> None:
    with (
        ZeroMQPublisher("tcp://127.0.0.1:*") as publisher,
        ZeroMQSubscriber(publisher.address, "t", timeout=0.05) as subscriber,
        pytest.raises(SubscriberTimeoutError, match=r"within 0\.05s"),
    ):
        subscriber.next_message()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        # ProxyStore's default topic '' means every topic: proxyflow matches exactly.
        (lambda: ZeroMQSubscriber("127.0.0.1", 5555), r"needs topic='name'.*every topic"),
        (lambda: ZeroMQSubscriber("127.0.0.1", 5555, topic=""), r"needs topic='name'"),
        (lambda: ZeroMQSubscriber("tcp://127.0.0.1:5555", topic="t"), r"topic= only"),
        (lambda: ZeroMQSubscriber("tcp://127.0.0.1:5555"), r"needs topics"),
        (lambda: ZeroMQSubscriber("tcp://127.0.0.1:5555", 5555, topic="t"), r"not 'tcp://"),
        (lambda: ZeroMQPublisher("tcp://127.0.0.1:5555", 5555), r"one endpoint"),
        (lambda: ZeroMQPublisher("127.0.0.1", "5555"), r"port must be an int"),
    ],
)
def test_call_forms_that_fit_neither_fail_loudly(make: object, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        make()  # type: ignore[operator]


def test_subscriber_refuses_another_process() -> None:
    with (
        ZeroMQPublisher("tcp://127.0.0.1:*") as publisher,
        ZeroMQSubscriber(publisher.address, "t") as subscriber,
    ):
        real = subscriber._pid
        subscriber._pid = -1  # as if this were a forked child
        with pytest.raises(WrongProcessError, match="another process"):
            subscriber.next_message(0)
        subscriber._pid = real
        with pytest.raises(SubscriberTimeoutError):
            subscriber.next_message(0)
