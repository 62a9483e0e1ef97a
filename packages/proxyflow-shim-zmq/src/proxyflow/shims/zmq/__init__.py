"""proxyflow broker shim for ZeroMQ publish/subscribe (pyzmq).

[`ZeroMQPublisher`][proxyflow.shims.zmq.publisher.ZeroMQPublisher] binds an
``XPUB`` socket; [`ZeroMQSubscriber`][proxyflow.shims.zmq.subscriber.ZeroMQSubscriber]
connects a ``SUB`` socket to it. They satisfy the ``Publisher``/``Subscriber``
protocols of ``proxyflow.api`` (the only proxyflow package the shim imports).
Delivery is fan-out with exact topic matching; nothing is stored, so
messages sent while nobody is subscribed are dropped. A subscriber that falls
behind slows the publisher down (``on_full="block"``, the default, with a
``send_timeout``) unless dropping is chosen (``on_full="drop"``). Large
messages travel without copies.

For asyncio code, [`AsyncZeroMQPublisher`][proxyflow.shims.zmq.AsyncZeroMQPublisher]
and [`AsyncZeroMQSubscriber`][proxyflow.shims.zmq.AsyncZeroMQSubscriber] do the
same on ``zmq.asyncio`` with coroutines (``await publisher.send_message(...)``,
``async for message in subscriber``): same wire format, flow control and
errors, so sync and asyncio objects talk to each other.

Example:
    ```python
    from proxyflow.shims.zmq import ZeroMQPublisher, ZeroMQSubscriber

    with ZeroMQPublisher("tcp://127.0.0.1:*") as publisher:
        subscriber = ZeroMQSubscriber(publisher.address, ["events"])
        publisher.wait_for_subscribers(1, "events", timeout=5.0)
        publisher.send_message("events", b"hello")
        assert subscriber.next_message(timeout=5.0) == b"hello"
        subscriber.close()
    ```
"""

from __future__ import annotations

from proxyflow.shims.zmq.__about__ import __version__
from proxyflow.shims.zmq.async_publisher import AsyncZeroMQPublisher
from proxyflow.shims.zmq.async_subscriber import AsyncZeroMQSubscriber
from proxyflow.shims.zmq.exceptions import (
    AddressInUseError,
    InvalidAddressError,
    InvalidContextError,
    InvalidTopicError,
    MalformedMessageError,
    PublisherClosedError,
    PublishTimeoutError,
    SocketFailedError,
    SubscriberClosedError,
    SubscriberTimeoutError,
    SubscriberWaitTimeoutError,
    WrongProcessError,
    ZeroMQShimError,
)
from proxyflow.shims.zmq.flow import DEFAULT_SEND_TIMEOUT, OnFull
from proxyflow.shims.zmq.publisher import DEFAULT_COPY_THRESHOLD, ZeroMQPublisher
from proxyflow.shims.zmq.subscriber import ZeroMQSubscriber

__all__ = [
    "DEFAULT_COPY_THRESHOLD",
    "DEFAULT_SEND_TIMEOUT",
    "AddressInUseError",
    "AsyncZeroMQPublisher",
    "AsyncZeroMQSubscriber",
    "InvalidAddressError",
    "InvalidContextError",
    "InvalidTopicError",
    "MalformedMessageError",
    "OnFull",
    "PublishTimeoutError",
    "PublisherClosedError",
    "SocketFailedError",
    "SubscriberClosedError",
    "SubscriberTimeoutError",
    "SubscriberWaitTimeoutError",
    "WrongProcessError",
    "ZeroMQPublisher",
    "ZeroMQShimError",
    "ZeroMQSubscriber",
    "__version__",
]
