"""Redis lists as work queues: each message to exactly one consumer, kept until read."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence

from proxyflow.shims.redis.connection import (
    REDIS_ERRORS,
    open_client,
    redact_url,
    translate_errors,
)
from proxyflow.shims.redis.exceptions import (
    BrokerConnectionError,
    PublisherClosedError,
    SubscriberClosedError,
    SubscriberTimeoutError,
)
from proxyflow.shims.redis.payload import as_payload
from proxyflow.shims.redis.topics import normalise_topics

__all__ = ["DEFAULT_QUEUE_PREFIX", "RedisQueuePublisher", "RedisQueueSubscriber"]

DEFAULT_QUEUE_PREFIX = "proxyflow:queue:"
"""Prefix of the Redis key holding a topic's list: ``proxyflow:queue:<topic>``."""


class RedisQueuePublisher:
    """Appends messages to one Redis list per topic (``RPUSH``).

    Behaviour:

    * **Ordering**: FIFO per topic: messages from one publisher on one topic are
      taken in the order sent.
    * **Blocking**: ``send_message`` returns once Redis has stored the message
      (at most ``socket_timeout``); lists are unbounded, so it never waits for room.
    * **Multi-producer**: any number of publishers may push to a topic; a
      publisher may be shared by threads.
    * **Multi-consumer**: work sharing: each message is taken by exactly one
      :class:`RedisQueueSubscriber`.
    * **Loss**: none while Redis keeps its data: messages wait in the list when
      no consumer runs (persistence across a Redis restart depends on the
      server's RDB/AOF settings).
    * **close()**: closes the connection pool; later sends raise
      :class:`~proxyflow.shims.redis.PublisherClosedError`. Idempotent.

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://`` URL.
        prefix: Prefix of the list keys; the key of topic ``t`` is ``prefix + t``.
        socket_timeout: Seconds a read or write may take.
        connect_timeout: Seconds connecting may take.

    Raises:
        InvalidBrokerURLError: if the URL is not a Redis URL.
        BrokerConnectionError: if the server does not answer.

    Example:
        ```python
        from proxyflow.shims.redis import RedisQueuePublisher, RedisQueueSubscriber

        publisher = RedisQueuePublisher("redis://localhost:6379")
        publisher.send_message("jobs", b"job-1")  # kept until someone reads it
        worker = RedisQueueSubscriber("redis://localhost:6379", ["jobs"])
        assert worker.next_message(timeout=1.0) == b"job-1"
        ```
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_QUEUE_PREFIX,
        socket_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
    ) -> None:
        self._url = url
        self._prefix = prefix
        self._client = open_client(
            url, socket_timeout=socket_timeout, connect_timeout=connect_timeout
        )
        self._closed = False

    @property
    def url(self) -> str:
        """The server URL, password redacted."""
        return redact_url(self._url)

    @property
    def prefix(self) -> str:
        """The key prefix of the topic lists."""
        return self._prefix

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def send_message(self, topic: str, message: bytes | bytearray | memoryview) -> None:
        """Append ``message`` to the list of ``topic``.

        Args:
            topic: The topic; its list key is ``prefix + topic``.
            message: The message bytes.

        Raises:
            PublisherClosedError: if the publisher was closed.
            BrokerConnectionError: if Redis cannot be reached.
            TypeError: if ``topic`` is not a string or ``message`` not bytes-like.
        """
        if self._closed:
            raise PublisherClosedError("send_message() on a closed RedisQueuePublisher")
        if not isinstance(topic, str):
            raise TypeError(f"topic must be a string, not {type(topic).__name__}")
        payload = as_payload(message)
        with translate_errors(self._url, f"pushing to {topic!r}"):
            self._client.rpush(self._prefix + topic, payload)

    def close(self) -> None:
        """Close the connection pool; idempotent. Queued messages stay in Redis."""
        if not self._closed:
            self._closed = True
            self._client.close()

    def __enter__(self) -> RedisQueuePublisher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"RedisQueuePublisher({self.url!r}, prefix={self._prefix!r}, {state})"


class RedisQueueSubscriber:
    """Takes messages from the Redis lists of one or more topics (``BLPOP``).

    Behaviour:

    * **Ordering**: FIFO per topic. With several topics, the order in which the
      lists are checked rotates on every call so that no topic starves.
    * **Blocking**: :meth:`next_message` waits up to its ``timeout`` (``None``:
      until a message arrives or the subscriber is closed), issuing ``BLPOP``
      calls of at most ``poll_interval`` seconds so that :meth:`close` and
      timeouts are honoured. Iteration waits up to the ``timeout`` given here.
    * **Multi-producer**: any number of publishers may push to the topics.
    * **Multi-consumer**: work sharing: Redis hands each message to exactly one
      of the subscribers waiting on its list.
    * **Loss**: none while the connection holds: a message is removed only when
      it is handed to a subscriber. If the connection drops after Redis popped
      a message but before it was read, that one message is lost (at-most-once);
      :meth:`next_message` then raises
      :class:`~proxyflow.shims.redis.BrokerConnectionError`.
    * **close()**: closes the connection; then :meth:`next_message` raises
      :class:`EOFError` and iteration stops. From another thread while one
      reads, the reader finishes the close within ``poll_interval`` and pushes
      back to the head of its list a message it popped after the close, so
      nothing is lost. Idempotent.

    Read a subscriber from one thread at a time.

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://`` URL.
        topics: One topic or a sequence of them.
        prefix: Prefix of the list keys (as given to the publisher).
        timeout: Seconds iteration waits before raising :class:`TimeoutError`
            (``None``: forever).
        socket_timeout: Seconds a read or write may take; must exceed ``poll_interval``.
        connect_timeout: Seconds connecting may take.
        poll_interval: Longest single ``BLPOP`` wait.

    Raises:
        InvalidBrokerURLError: if the URL is not a Redis URL.
        BrokerConnectionError: if the server does not answer.
        ValueError: if no topic is given or the timeouts do not fit together.
    """

    def __init__(
        self,
        url: str,
        topics: str | Sequence[str],
        *,
        prefix: str = DEFAULT_QUEUE_PREFIX,
        timeout: float | None = None,
        socket_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        poll_interval: float = 0.5,
    ) -> None:
        self._topics = normalise_topics(topics)
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0 or None, got {timeout!r}")
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be > 0, got {poll_interval!r}")
        if socket_timeout is not None and socket_timeout <= poll_interval:
            raise ValueError(
                f"socket_timeout ({socket_timeout}s) must exceed poll_interval "
                f"({poll_interval}s): a BLPOP waits that long for an answer"
            )
        self._url = url
        self._prefix = prefix
        self._keys = [prefix + topic for topic in self._topics]
        self._timeout = timeout
        self._poll_interval = poll_interval
        self._lock = threading.Lock()
        self._closed = False
        self._reading = False
        self._broken: BrokerConnectionError | None = None
        self._client = open_client(
            url, socket_timeout=socket_timeout, connect_timeout=connect_timeout
        )

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics read."""
        return self._topics

    @property
    def url(self) -> str:
        """The server URL, password redacted."""
        return redact_url(self._url)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def next_message(self, timeout: float | None = None) -> bytes:
        """Take the next message from the topics' lists.

        Args:
            timeout: Seconds to wait; ``None`` waits until a message arrives or
                the subscriber is closed; ``0`` only takes a message already queued.

        Raises:
            SubscriberTimeoutError: if nothing arrived in time (a ``TimeoutError``).
            SubscriberClosedError: if the subscriber is closed (an ``EOFError``).
            BrokerConnectionError: if the connection is lost (a ``ConnectionError``).
        """
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0 or None, got {timeout!r}")
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            if self._closed:
                raise SubscriberClosedError("the RedisQueueSubscriber is closed")
            if self._broken is not None:
                raise self._broken
            self._reading = True
        popped: tuple[bytes, bytes] | None = None
        failure: BaseException | None = None
        try:
            while popped is None and not self._closed:
                wait = self._poll_interval
                if deadline is not None:
                    wait = min(wait, deadline - time.monotonic())
                popped = self._pop(wait)
                if deadline is not None and time.monotonic() >= deadline:
                    break
        except REDIS_ERRORS as exc:
            failure = exc
        finally:
            with self._lock:
                self._reading = False
                closed = self._closed
            if closed:
                self._release(popped)
        if closed:
            raise SubscriberClosedError("the RedisQueueSubscriber is closed")
        if failure is not None:
            safe = redact_url(self._url)
            self._broken = BrokerConnectionError(
                f"Redis at {safe}: connection of the queue subscriber to "
                f"{list(self._topics)} lost: {failure}",
                safe,
            )
            raise self._broken from failure
        if popped is None:
            raise SubscriberTimeoutError(f"no message within {timeout}s on {list(self._topics)}")
        return popped[1]

    def _pop(self, wait: float) -> tuple[bytes, bytes] | None:
        keys = self._keys
        if len(keys) > 1:
            self._keys = keys[1:] + keys[:1]
        if wait < 0.001:  # BLPOP 0 would block forever: take only what is there
            for key in keys:
                value: bytes | None = self._client.lpop(key)  # type: ignore[assignment]
                if value is not None:
                    return key.encode(), value
            return None
        reply: tuple[bytes, bytes] | None = self._client.blpop(keys, timeout=wait)  # type: ignore[assignment]
        return reply

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            return self.next_message(self._timeout)
        except EOFError:
            raise StopIteration from None

    def close(self) -> None:
        """Close the connection; idempotent. Queued messages stay in Redis."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._reading:
                return  # the reader releases the connection when it wakes up
        self._release(None)

    def _release(self, popped: tuple[bytes, bytes] | None) -> None:
        try:
            if popped is not None:
                with translate_errors(self._url, "returning a message taken during close"):
                    self._client.lpush(popped[0], popped[1])
        finally:
            self._client.close()

    def __enter__(self) -> RedisQueueSubscriber:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"RedisQueueSubscriber({self.url!r}, topics={list(self._topics)}, {state})"
