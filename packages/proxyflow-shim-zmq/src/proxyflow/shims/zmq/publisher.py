"""The publisher side of the ZeroMQ shim: a bound XPUB socket."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Sequence

import zmq

from proxyflow.api import Closeable, Message, as_message, normalise_topics
from proxyflow.shims.zmq.exceptions import PublisherClosedError, SubscriberWaitTimeoutError
from proxyflow.shims.zmq.framing import topic_frame
from proxyflow.shims.zmq.sockets import (
    bind,
    check_process,
    current_pid,
    linger_ms,
    tcp_endpoint,
)

__all__ = ["DEFAULT_COPY_THRESHOLD", "ZeroMQPublisher"]

DEFAULT_COPY_THRESHOLD = 64 * 1024
"""Messages at least this long are handed to ZeroMQ without a copy."""

_DRAIN_EVERY = 1024
"""Sends between two reads of queued (un)subscription notices.

ZeroMQ routes messages by the subscriptions it has seen whether or not the
notices are read, so reading them on every send (a failed non-blocking
receive, about 3 us) buys nothing: the publisher's
[`subscriber_count`][proxyflow.shims.zmq.publisher.ZeroMQPublisher.subscriber_count] and
[`wait_for_subscribers`][proxyflow.shims.zmq.publisher.ZeroMQPublisher.wait_for_subscribers]
read them first anyway. The periodic read only bounds the memory the notices of
a long-lived publisher with many joining and leaving subscribers take.
"""

_MAX_CACHED_TOPICS = 4096
"""Topic frames kept per publisher before the cache is emptied."""


class ZeroMQPublisher(Closeable):
    """Publishes messages on a bound ZeroMQ ``XPUB`` socket; subscribers connect to it.

    Each message travels as ``[topic + NUL, payload]`` and subscribers subscribe
    to ``topic + NUL``, so topics match exactly (``"a"`` never gets ``"ab"``).

    Behaviour:

    * **Ordering**: messages from one publisher arrive in the order sent, to
      each subscriber (one ordered pipe per subscriber).
    * **Blocking**: never blocks: ``send_message`` queues the message and
      returns. When a subscriber's queue holds ``sndhwm`` messages, further
      messages *for that subscriber* are dropped (ZeroMQ PUB semantics).
    * **Multi-producer**: one bound publisher per address. Several processes
      publishing to the same subscribers need several publishers (a subscriber
      may connect to several addresses) or a proxy. The object may be shared
      by threads: sends are serialised by a lock.
    * **Multi-consumer**: fan-out: every connected subscriber of a topic gets
      every message on it.
    * **Loss**: messages are dropped when no subscriber of the topic is
      connected (including the short time while a new subscriber connects and
      subscribes, the "slow joiner": call
      [`wait_for_subscribers`][proxyflow.shims.zmq.publisher.ZeroMQPublisher.wait_for_subscribers]
      first), at the high-water mark, and on close after ``linger`` seconds.
    * **close()**: closes the socket, giving queued messages ``linger`` seconds
      to leave, and terminates the context if this object created it (a
      context passed in is left alone). Later sends raise
      [`PublisherClosedError`][proxyflow.shims.zmq.PublisherClosedError]. Idempotent.

    Messages of ``copy_threshold`` bytes or more are sent without a copy: ZeroMQ
    reads them from your buffer after ``send_message`` returns, so do not
    modify a ``bytearray`` or writable ``memoryview`` you sent (``bytes`` are
    immutable and always safe).

    The object belongs to the process that created it (its context does not
    survive ``fork`` and it cannot be pickled): create it in the process that
    publishes, under any start method.

    ProxyStore's form ``ZeroMQPublisher(address, port)`` works too and binds
    ``tcp://address:port``, as ProxyStore's does.

    Args:
        address: Endpoint to bind: ``tcp://127.0.0.1:5555``, ``tcp://*:5555``,
            ``tcp://127.0.0.1:*`` (a free port; see
            [`address`][proxyflow.shims.zmq.publisher.ZeroMQPublisher.address]),
            ``ipc:///path``. With ``port``, a host or interface only.
        port: ProxyStore's form: the TCP port to bind on ``address``.
        sndhwm: Messages queued per subscriber before new ones are dropped (0: no limit).
        linger: Seconds [`close`][proxyflow.shims.zmq.publisher.ZeroMQPublisher.close]
            waits for queued messages (``None``: until sent).
        copy_threshold: Size from which messages are sent without a copy.
        context: A ZeroMQ context to use (not terminated on close); by default
            the publisher creates and owns one.

    Raises:
        AddressInUseError: if the address is taken (an ``OSError``).
        InvalidAddressError: if the endpoint is invalid (a ``ValueError``).
        TypeError: if ``port`` is given with an endpoint, or is not an int.

    Example:
        ```python
        from proxyflow.shims.zmq import ZeroMQPublisher, ZeroMQSubscriber

        publisher = ZeroMQPublisher("tcp://127.0.0.1:*")
        subscriber = ZeroMQSubscriber(publisher.address, ["events"])
        publisher.wait_for_subscribers(1, ["events"], timeout=5.0)
        publisher.send_message("events", b"hello")
        assert subscriber.next_message(timeout=5.0) == b"hello"
        ```
    """

    def __init__(
        self,
        address: str,
        port: int | None = None,
        *,
        sndhwm: int = 1000,
        linger: float | None = 1.0,
        copy_threshold: int = DEFAULT_COPY_THRESHOLD,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
    ) -> None:
        if port is not None:
            address = tcp_endpoint("ZeroMQPublisher", address, port)
        if sndhwm < 0:
            raise ValueError(f"sndhwm must be >= 0, got {sndhwm!r}")
        self._linger = linger_ms(linger)
        self._copy_threshold = copy_threshold
        self._pid = os.getpid()
        self._own_context = context is None
        self._context: zmq.Context[zmq.Socket[bytes]] = (
            zmq.Context() if context is None else context
        )
        self._lock = threading.Lock()
        self._closed = False
        self._subscriptions: Counter[bytes] = Counter()
        self._frames: dict[str, bytes] = {}
        self._until_drain = _DRAIN_EVERY
        self._socket: zmq.Socket[bytes] = self._context.socket(zmq.XPUB)
        try:
            # pyzmq copies "zero-copy" sends below its own threshold; use ours only.
            self._socket.copy_threshold = 0
            self._socket.setsockopt(zmq.SNDHWM, sndhwm)
            self._socket.setsockopt(zmq.LINGER, self._linger)
            # Pass every (un)subscription up, not only the first/last per prefix,
            # so that subscribers can be counted.
            self._socket.setsockopt(zmq.XPUB_VERBOSE, 1)
            self._socket.setsockopt(zmq.XPUB_VERBOSER, 1)
            self._address = bind(self._socket, address)
        except BaseException:
            self._socket.close(linger=0)
            if self._own_context:
                self._context.term()
            raise

    @property
    def address(self) -> str:
        """The endpoint bound, with the real port when ``*`` was asked for."""
        return self._address

    @property
    def closed(self) -> bool:
        """Whether [`close`][proxyflow.shims.zmq.publisher.ZeroMQPublisher.close] was called."""
        return self._closed

    @property
    def sndhwm(self) -> int:
        """The send high-water mark of the socket."""
        with self._lock:
            self._check_open()
            return int(self._socket.getsockopt(zmq.SNDHWM))

    def _check_open(self) -> None:
        if self._closed:
            raise PublisherClosedError("the ZeroMQPublisher is closed")
        check_process(self._pid, "ZeroMQPublisher")

    def send_message(self, topic: str, message: Message) -> None:
        """Publish ``message`` on ``topic``; returns at once.

        Args:
            topic: The topic; any string without a NUL character.
            message: The message bytes; from ``copy_threshold`` bytes on it is
                sent without a copy (do not modify it afterwards).

        Raises:
            PublisherClosedError: if the publisher was closed.
            InvalidTopicError: if ``topic`` contains a NUL character.
            TypeError: if ``topic`` is not a string or ``message`` not bytes-like.
        """
        frame = self._frames.get(topic) if type(topic) is str else None
        if frame is None:
            frame = topic_frame(topic)
            if len(self._frames) >= _MAX_CACHED_TOPICS:
                self._frames.clear()
            self._frames[topic] = frame
        payload = as_message(message)
        with self._lock:
            if self._closed or current_pid() != self._pid:
                self._check_open()
            self._until_drain -= 1
            if not self._until_drain:
                self._until_drain = _DRAIN_EVERY
                self._drain_subscriptions(0)
            socket = self._socket
            # Two sends: pyzmq's send_multipart checks every part in Python and
            # measured slower for two frames.
            socket.send(frame, zmq.SNDMORE)
            if len(payload) >= self._copy_threshold:
                socket.send(payload, 0, copy=False)
            else:
                socket.send(payload)

    def subscriber_count(self, topic: str) -> int:
        """Return how many subscriptions currently match ``topic``.

        Counts subscriptions announced to this publisher (by this shim's
        subscribers, or any SUB socket whose prefix matches the topic frame).
        A subscriber that leaves is uncounted once ZeroMQ notices its
        disconnection, which takes a moment.

        Raises:
            PublisherClosedError: if the publisher was closed.
        """
        frame = topic_frame(topic)
        with self._lock:
            self._check_open()
            self._drain_subscriptions(0)
            return self._count(frame)

    def wait_for_subscribers(
        self,
        count: int = 1,
        topics: str | Sequence[str] | None = None,
        *,
        timeout: float | None = 5.0,
        exact: bool = False,
    ) -> None:
        """Wait until each topic has at least (or, with ``exact``, exactly) ``count`` subscribers.

        This is the cure for the slow-joiner problem: a subscriber that has just
        connected misses the messages sent before its subscription reaches the
        publisher.

        Args:
            count: Number of subscriptions to wait for, per topic.
            topics: Topics to check; ``None`` counts all subscriptions together.
            timeout: Seconds to wait (``None``: forever).
            exact: Wait for exactly ``count`` (for example ``0`` after subscribers left).

        Raises:
            SubscriberWaitTimeoutError: if the counts were not reached in time
                (a ``TimeoutError``; the message gives the counts seen).
            PublisherClosedError: if the publisher was closed.
        """
        frames = (
            None
            if topics is None
            else [topic_frame(t) for t in normalise_topics(topics, allow_empty=True)]
        )
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                self._check_open()
                self._drain_subscriptions(0)
                seen = self._counts(frames)
                if all((n == count) if exact else (n >= count) for n in seen.values()):
                    return
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    want = "exactly" if exact else "at least"
                    raise SubscriberWaitTimeoutError(
                        f"wanted {want} {count} subscriber(s) per topic within {timeout}s, "
                        f"saw {seen}"
                    )
                wait_ms = 100 if remaining is None else max(1, min(100, int(remaining * 1000)))
                self._drain_subscriptions(wait_ms)

    def _counts(self, frames: list[bytes] | None) -> dict[str, int]:
        if frames is None:
            return {"*": sum(self._subscriptions.values())}
        return {frame[:-1].decode(): self._count(frame) for frame in frames}

    def _count(self, frame: bytes) -> int:
        return sum(n for prefix, n in self._subscriptions.items() if frame.startswith(prefix))

    def _drain_subscriptions(self, wait_ms: int) -> None:
        """Read pending (un)subscription notices; wait up to ``wait_ms`` for the first."""
        if wait_ms > 0 and not self._socket.poll(wait_ms, zmq.POLLIN):
            return
        while True:
            try:
                notice = self._socket.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            if not notice:
                continue
            prefix = notice[1:]
            if notice[0] == 1:
                self._subscriptions[prefix] += 1
            elif notice[0] == 0 and self._subscriptions[prefix] > 0:
                self._subscriptions[prefix] -= 1
                if not self._subscriptions[prefix]:
                    del self._subscriptions[prefix]

    def close(self) -> None:
        """Close the socket (after ``linger``) and an owned context; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if current_pid() != self._pid:
                return  # a forked child must not touch the parent's context
            self._socket.close(linger=self._linger)
            if self._own_context:
                self._context.term()

    def __reduce__(self) -> str:
        raise TypeError(
            "a ZeroMQPublisher cannot be pickled; create it in the process that publishes"
        )

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"ZeroMQPublisher({self._address!r}, {state})"
