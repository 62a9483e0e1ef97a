"""proxyflow broker shim for `queue.Queue` and `multiprocessing` queues.

It needs only the standard library and ``proxyflow.api`` (the dependency-free
plug-in API whose ``Publisher`` and ``Subscriber`` protocols it satisfies, and
whose error root and polling subscriber it builds on). Use it for streams
inside one process (threads) or between processes that share a
`multiprocessing` queue. The constructors take ProxyStore's arguments with the
same meaning. Queues that several consumers share keep the producers' roster
of their topics: queues of threads do by themselves, queues shared by
processes when made with [`shared_queue`][proxyflow.shims.queue.shared_queue].

For asyncio code, [`AsyncQueuePublisher`][proxyflow.shims.queue.AsyncQueuePublisher]
and [`AsyncQueueSubscriber`][proxyflow.shims.queue.AsyncQueueSubscriber] do
the same over ``asyncio.Queue`` objects, with coroutines (``await
publisher.send_message(...)``, ``async for message in subscriber``); they
satisfy ``proxyflow.api.AsyncPublisher`` and ``AsyncSubscriber`` and keep the
producers' roster too.

Example:
    ```python
    import queue
    from proxyflow.shims.queue import QueuePublisher, QueueSubscriber

    q: queue.Queue[bytes] = queue.Queue()
    publisher = QueuePublisher({"events": q})
    subscriber = QueueSubscriber(q, topics=["events"])
    publisher.send_message("events", b"hello")
    assert subscriber.next_message(timeout=1.0) == b"hello"
    ```
"""

from __future__ import annotations

from proxyflow.shims.queue.__about__ import __version__
from proxyflow.shims.queue.async_publisher import AsyncQueuePublisher
from proxyflow.shims.queue.async_subscriber import AsyncQueueSubscriber
from proxyflow.shims.queue.exceptions import (
    PublisherClosedError,
    QueueFullError,
    QueueShimError,
    QueueUnavailableError,
    RosterFullError,
    SubscriberClosedError,
    SubscriberTimeoutError,
    UnexpectedItemError,
    UnknownTopicError,
)
from proxyflow.shims.queue.protocols import QueueLike
from proxyflow.shims.queue.publisher import QueuePublisher
from proxyflow.shims.queue.shared import SharedQueue, shared_queue
from proxyflow.shims.queue.subscriber import QueueSubscriber, WorkSharingQueueSubscriber

__all__ = [
    "AsyncQueuePublisher",
    "AsyncQueueSubscriber",
    "PublisherClosedError",
    "QueueFullError",
    "QueueLike",
    "QueuePublisher",
    "QueueShimError",
    "QueueSubscriber",
    "QueueUnavailableError",
    "RosterFullError",
    "SharedQueue",
    "SubscriberClosedError",
    "SubscriberTimeoutError",
    "UnexpectedItemError",
    "UnknownTopicError",
    "WorkSharingQueueSubscriber",
    "__version__",
    "shared_queue",
]
