"""proxyflow broker shim for ZeroMQ publish/subscribe (pyzmq).

[`ZeroMQPublisher`][proxyflow.shims.zmq.publisher.ZeroMQPublisher] binds an
``XPUB`` socket; [`ZeroMQSubscriber`][proxyflow.shims.zmq.subscriber.ZeroMQSubscriber]
connects a ``SUB`` socket to it. They satisfy the ``Publisher``/``Subscriber``
protocols of ``proxyflow.api`` (the only proxyflow package the shim imports).
Delivery is fan-out with exact topic matching; nothing is stored, so
messages sent while nobody is subscribed, or beyond a high-water mark, are
dropped. Large messages travel without copies.

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
from proxyflow.shims.zmq.exceptions import (
    AddressInUseError,
    InvalidAddressError,
    InvalidTopicError,
    MalformedMessageError,
    PublisherClosedError,
    SubscriberClosedError,
    SubscriberTimeoutError,
    SubscriberWaitTimeoutError,
    WrongProcessError,
    ZeroMQShimError,
)
from proxyflow.shims.zmq.publisher import DEFAULT_COPY_THRESHOLD, ZeroMQPublisher
from proxyflow.shims.zmq.subscriber import ZeroMQSubscriber

__all__ = [
    "DEFAULT_COPY_THRESHOLD",
    "AddressInUseError",
    "InvalidAddressError",
    "InvalidTopicError",
    "MalformedMessageError",
    "PublisherClosedError",
    "SubscriberClosedError",
    "SubscriberTimeoutError",
    "SubscriberWaitTimeoutError",
    "WrongProcessError",
    "ZeroMQPublisher",
    "ZeroMQShimError",
    "ZeroMQSubscriber",
    "__version__",
]
