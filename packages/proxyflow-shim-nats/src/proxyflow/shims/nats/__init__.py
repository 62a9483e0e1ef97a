"""proxyflow broker shim for NATS JetStream: acknowledged sends, durable pull consumers.

* [`JetStreamPublisher`][proxyflow.shims.nats.sync.JetStreamPublisher] /
  [`JetStreamSubscriber`][proxyflow.shims.nats.sync.JetStreamSubscriber]
  satisfy ``proxyflow.api.Publisher`` / ``AckingSubscriber``, running on one
  shared background event loop ([`proxyflow.shims.nats.loop`][proxyflow.shims.nats.loop]);
* [`AsyncJetStreamPublisher`][proxyflow.shims.nats.publisher.AsyncJetStreamPublisher] /
  [`AsyncJetStreamSubscriber`][proxyflow.shims.nats.subscriber.AsyncJetStreamSubscriber]
  satisfy ``AsyncPublisher`` / ``AsyncAckingSubscriber`` natively on asyncio.

One stream per deployment ([`StreamSettings`][proxyflow.shims.nats.settings.StreamSettings])
holds one subject per topic; a send returns once the server stored the message;
subscribers sharing a ``durable`` name share the work, and each durable name
gets every message. Deliveries are acknowledged (``ack``), given back
(``nack``, with a delay) or rejected (``reject``, to an optional dead-letter
topic). Publishers and subscribers also keep the producers' roster of each
topic (``WorkSharingPublisher`` / ``WorkSharingSubscriber``, see
[`proxyflow.shims.nats.roster`][proxyflow.shims.nats.roster]). Only
``proxyflow.api`` is imported from proxyflow.

Example:
    ```python
    from proxyflow.shims.nats import JetStreamPublisher, JetStreamSubscriber

    url = "nats://127.0.0.1:4222"
    workers = JetStreamSubscriber(url, ["jobs"], durable="workers", ack_wait=30.0)
    JetStreamPublisher(url).send_message("jobs", b"job-1")  # stored when it returns
    delivery = workers.next_delivery(timeout=5.0)
    assert delivery.message == b"job-1" and delivery.delivery_count == 1
    delivery.ack()
    ```
"""

from __future__ import annotations

from proxyflow.shims.nats.__about__ import __version__
from proxyflow.shims.nats.connection import NatsCredentials, redact_nats_url
from proxyflow.shims.nats.delivery import AsyncJetStreamDelivery
from proxyflow.shims.nats.exceptions import (
    BrokerAuthenticationError,
    BrokerProtocolError,
    BrokerTimeoutError,
    BrokerUnavailableError,
    ConsumerConfigMismatchError,
    DeliveryReleasedError,
    InvalidBrokerURLError,
    MessageTooLargeError,
    NatsShimError,
    PublisherClosedError,
    PublishNotAcknowledgedError,
    StreamConfigMismatchError,
    StreamFullError,
    StreamNotFoundError,
    SubscriberClosedError,
    SubscriberTimeoutError,
    UnacknowledgedSend,
    UsedAfterForkError,
)
from proxyflow.shims.nats.publisher import AsyncJetStreamPublisher
from proxyflow.shims.nats.settings import DEFAULT_STREAM, StreamSettings
from proxyflow.shims.nats.subscriber import AsyncJetStreamSubscriber
from proxyflow.shims.nats.sync import JetStreamDelivery, JetStreamPublisher, JetStreamSubscriber

__all__ = [
    "DEFAULT_STREAM",
    "AsyncJetStreamDelivery",
    "AsyncJetStreamPublisher",
    "AsyncJetStreamSubscriber",
    "BrokerAuthenticationError",
    "BrokerProtocolError",
    "BrokerTimeoutError",
    "BrokerUnavailableError",
    "ConsumerConfigMismatchError",
    "DeliveryReleasedError",
    "InvalidBrokerURLError",
    "JetStreamDelivery",
    "JetStreamPublisher",
    "JetStreamSubscriber",
    "MessageTooLargeError",
    "NatsCredentials",
    "NatsShimError",
    "PublishNotAcknowledgedError",
    "PublisherClosedError",
    "StreamConfigMismatchError",
    "StreamFullError",
    "StreamNotFoundError",
    "StreamSettings",
    "SubscriberClosedError",
    "SubscriberTimeoutError",
    "UnacknowledgedSend",
    "UsedAfterForkError",
    "__version__",
    "redact_nats_url",
]
