"""proxyflow broker shim for Redis: pub/sub channels and list-based work queues.

Two pairs satisfy the ``Publisher``/``Subscriber`` protocols of
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
  persistence), with the producers' roster of each topic.

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
from proxyflow.shims.redis.exceptions import (
    BrokerAuthenticationError,
    BrokerConnectionError,
    BrokerFullError,
    BrokerProtocolError,
    InvalidBrokerURLError,
    MessageNotReceivedError,
    PublisherClosedError,
    PublishRejectedError,
    RedisShimError,
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

__all__ = [
    "DEFAULT_QUEUE_PREFIX",
    "ROSTER_PREFIX",
    "BrokerAuthenticationError",
    "BrokerConnectionError",
    "BrokerFullError",
    "BrokerProtocolError",
    "InvalidBrokerURLError",
    "MessageNotReceivedError",
    "PublishRejectedError",
    "PublisherClosedError",
    "RedisPublisher",
    "RedisQueuePublisher",
    "RedisQueueSubscriber",
    "RedisShimError",
    "RedisSubscriber",
    "SubscriberClosedError",
    "SubscriberTimeoutError",
    "__version__",
    "redact_url",
]

redact_url = _redact_url
"""Alias of [`proxyflow.api.redact_url`][proxyflow.api.urls.redact_url], kept for compatibility.

Hides passwords in URLs; new code imports it from ``proxyflow.api``.
"""
