"""proxyflow broker shim for Redis: pub/sub channels, list-based work queues and Streams.

Three pairs satisfy the ``Publisher``/``Subscriber`` protocols of
``proxyflow.api`` (the only proxyflow package the shim imports):

* [`RedisPublisher`][proxyflow.shims.redis.pubsub.RedisPublisher] /
  [`RedisSubscriber`][proxyflow.shims.redis.pubsub.RedisSubscriber]:
  ``PUBLISH``/``SUBSCRIBE``, fan-out, messages dropped when nobody listens
  (Redis tells the publisher how many subscribers got each message; the
  subscriber resubscribes after a lost connection);
* [`RedisQueuePublisher`][proxyflow.shims.redis.queue.RedisQueuePublisher] /
  [`RedisQueueSubscriber`][proxyflow.shims.redis.queue.RedisQueueSubscriber]:
  ``RPUSH``/``BLPOP`` on one list per topic, each message to exactly one
  consumer, kept until read (at most once: not across a restart without
  persistence, nor when a consumer dies), with the producers' roster of each topic;
  their asyncio forms ``AsyncRedisPublisher`` / ``AsyncRedisSubscriber`` and
  ``AsyncRedisQueuePublisher`` / ``AsyncRedisQueueSubscriber`` (on
  ``redis.asyncio``) live in [`async_pubsub`][proxyflow.shims.redis.async_pubsub]
  and [`async_queue`][proxyflow.shims.redis.async_queue];
* [`RedisStreamPublisher`][proxyflow.shims.redis.stream_publisher.RedisStreamPublisher] /
  [`RedisStreamSubscriber`][proxyflow.shims.redis.stream_subscriber.RedisStreamSubscriber]:
  ``XADD``/``XREADGROUP`` on one stream per topic, consumer groups, and
  acknowledgements (``AckingSubscriber``): at least once, with redelivery of
  what a dead consumer held and dead letters. Their asyncio forms,
  ``AsyncRedisStreamPublisher`` and ``AsyncRedisStreamSubscriber``, live in
  [`async_stream_publisher`][proxyflow.shims.redis.async_stream_publisher] and
  [`async_stream_subscriber`][proxyflow.shims.redis.async_stream_subscriber].

Connections speak RESP2 on purpose (redis-py 8 defaults to RESP3, whose pub/sub
path is slower for large messages; see
[`proxyflow.shims.redis.connection`][proxyflow.shims.redis.connection]).

Example:
    ```python
    from proxyflow.shims.redis import RedisPublisher, RedisSubscriber

    subscriber = RedisSubscriber("redis://localhost:6379/0", ["events"])
    publisher = RedisPublisher("redis://localhost:6379/0")
    publisher.send_message("events", b"hello")
    assert subscriber.next_message(timeout=1.0) == b"hello"
    ```
"""

from __future__ import annotations

from proxyflow.api import redact_url as _redact_url
from proxyflow.shims.redis.__about__ import __version__
from proxyflow.shims.redis.async_pubsub import AsyncRedisPublisher, AsyncRedisSubscriber
from proxyflow.shims.redis.async_queue import AsyncRedisQueuePublisher, AsyncRedisQueueSubscriber
from proxyflow.shims.redis.async_stream_publisher import AsyncRedisStreamPublisher
from proxyflow.shims.redis.async_stream_subscriber import AsyncRedisStreamSubscriber
from proxyflow.shims.redis.exceptions import (
    BrokerAuthenticationError,
    BrokerConnectionError,
    BrokerFullError,
    BrokerProtocolError,
    DeliveryReleasedError,
    InvalidBrokerURLError,
    MessageNotReceivedError,
    PublisherClosedError,
    PublishRejectedError,
    RedisShimError,
    StreamsUnsupportedError,
    StreamTrimmedError,
    SubscriberClosedError,
    SubscriberTimeoutError,
)
from proxyflow.shims.redis.pubsub import RedisPublisher, RedisSubscriber
from proxyflow.shims.redis.queue import (
    DEFAULT_QUEUE_PREFIX,
    RedisQueuePublisher,
    RedisQueueSubscriber,
)
from proxyflow.shims.redis.roster import ROSTER_PREFIX
from proxyflow.shims.redis.stream_delivery import AsyncRedisStreamDelivery, RedisStreamDelivery
from proxyflow.shims.redis.stream_keys import DEFAULT_DEAD_LETTER_TOPIC, DEFAULT_STREAM_PREFIX
from proxyflow.shims.redis.stream_publisher import RedisStreamPublisher
from proxyflow.shims.redis.stream_subscriber import RedisStreamSubscriber
from proxyflow.shims.redis.stream_trim import TrimReport

__all__ = [
    "DEFAULT_DEAD_LETTER_TOPIC",
    "DEFAULT_QUEUE_PREFIX",
    "DEFAULT_STREAM_PREFIX",
    "ROSTER_PREFIX",
    "AsyncRedisPublisher",
    "AsyncRedisQueuePublisher",
    "AsyncRedisQueueSubscriber",
    "AsyncRedisStreamDelivery",
    "AsyncRedisStreamPublisher",
    "AsyncRedisStreamSubscriber",
    "AsyncRedisSubscriber",
    "BrokerAuthenticationError",
    "BrokerConnectionError",
    "BrokerFullError",
    "BrokerProtocolError",
    "DeliveryReleasedError",
    "InvalidBrokerURLError",
    "MessageNotReceivedError",
    "PublishRejectedError",
    "PublisherClosedError",
    "RedisPublisher",
    "RedisQueuePublisher",
    "RedisQueueSubscriber",
    "RedisShimError",
    "RedisStreamDelivery",
    "RedisStreamPublisher",
    "RedisStreamSubscriber",
    "RedisSubscriber",
    "StreamTrimmedError",
    "StreamsUnsupportedError",
    "SubscriberClosedError",
    "SubscriberTimeoutError",
    "TrimReport",
    "__version__",
    "redact_url",
]

redact_url = _redact_url
"""Alias of [`proxyflow.api.redact_url`][proxyflow.api.urls.redact_url], kept for compatibility.

Hides passwords in URLs; new code imports it from ``proxyflow.api``.
"""
