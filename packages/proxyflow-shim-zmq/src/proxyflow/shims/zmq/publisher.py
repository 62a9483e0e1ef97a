"""The publisher side of the ZeroMQ shim: a bound XPUB socket."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import zmq

from proxyflow.api import Closeable, Message
from proxyflow.shims.zmq.flow import DEFAULT_SEND_TIMEOUT, OnFull, send_first_frame
from proxyflow.shims.zmq.options import DEFAULT_COPY_THRESHOLD, publisher_options
from proxyflow.shims.zmq.publisher_core import PublisherCore
from proxyflow.shims.zmq.sockets import current_pid
from proxyflow.shims.zmq.subscriptions import Wanted

__all__ = ["DEFAULT_COPY_THRESHOLD", "ZeroMQPublisher"]


class ZeroMQPublisher(PublisherCore["zmq.Socket[bytes]"], Closeable):
    """Publishes messages on a bound ZeroMQ ``XPUB`` socket; subscribers connect to it.

    Each message travels as ``[topic + NUL, payload]`` and subscribers subscribe
    to ``topic + NUL``, so topics match exactly (``"a"`` never gets ``"ab"``).

    Behaviour:

    * **Ordering**: messages from one publisher arrive in the order sent, to
      each subscriber (one ordered pipe per subscriber).
    * **Blocking**: with ``on_full="block"`` (the default) a subscriber that
      falls behind slows the publisher down instead of losing messages: when
      ``sndhwm`` messages wait for one subscriber of the topic (after its own
      ``rcvhwm`` and the network buffers filled), ``send_message`` waits for
      room, at most ``send_timeout`` seconds, then raises
      [`PublishTimeoutError`][proxyflow.shims.zmq.PublishTimeoutError] (a
      ``TimeoutError``; the message reached no subscriber and may be sent
      again). With ``on_full="drop"`` it never waits: ZeroMQ drops the
      messages *for that subscriber* (the behaviour of a plain ZeroMQ PUB socket).
    * **Multi-producer**: one bound publisher per address. Several processes
      publishing to the same subscribers need several publishers (a subscriber
      may connect to several addresses) or a proxy. The object may be shared
      by threads: sends are serialised by a lock.
    * **Multi-consumer**: fan-out: every connected subscriber of a topic gets
      every message on it. With ``on_full="block"`` the slowest subscriber sets
      the pace.
    * **Loss**: a message reaches only the subscribers whose subscription had
      arrived when it was sent: messages sent while no subscriber of the topic
      is connected are dropped, including during the short time a new
      subscriber takes to connect (the "slow joiner": call
      [`wait_for_subscribers`][proxyflow.shims.zmq.publisher.ZeroMQPublisher.wait_for_subscribers]
      first), and messages sent while a subscriber's connection is broken are
      lost for it. With ``on_full="drop"``, messages beyond the high-water
      marks are dropped too. None of these is reported here; a consumer that
      tracks sequence numbers (proxyflow's stream does) sees them as a gap.
      ``close()`` drops what is still queued after ``linger`` seconds.
    * **close()**: closes the socket, giving queued messages ``linger`` seconds
      to leave (60 s by default, the time a send waits for a stalled
      subscriber: ``close()`` returns as soon as they are out), and terminates the
      context if this object created it (a context passed in is left alone).
      A send blocked in another thread ends with `PublisherClosedError` within
      0.1 s. Later sends raise
      [`PublisherClosedError`][proxyflow.shims.zmq.PublisherClosedError]. Idempotent.

    Messages of ``copy_threshold`` bytes or more are sent without a copy: ZeroMQ
    reads them from your buffer after ``send_message`` returns, so do not
    modify a ``bytearray`` or writable ``memoryview`` you sent (``bytes`` are
    immutable and always safe).

    The object belongs to the process that created it (its context does not
    survive ``fork`` and it cannot be pickled): create it in the process that
    publishes, under any start method.

    ProxyStore's form ``ZeroMQPublisher(address, port)`` works too and binds
    ``tcp://address:port``, as ProxyStore's does. ProxyStore's publisher drops
    messages for slow subscribers; pass ``on_full="drop"`` for that behaviour.

    Args:
        address: Endpoint to bind: ``tcp://127.0.0.1:5555``, ``tcp://*:5555``,
            ``tcp://127.0.0.1:*`` (a free port; see
            [`address`][proxyflow.shims.zmq.publisher.ZeroMQPublisher.address]),
            ``ipc:///path``. With ``port``, a host or interface only.
        port: ProxyStore's form: the TCP port to bind on ``address``.
        sndhwm: Messages queued per subscriber before sends wait (or drop) (0: no limit).
        on_full: ``"block"``: wait for a slow subscriber (up to ``send_timeout``);
            ``"drop"``: drop messages for it.
        send_timeout: Seconds a blocked send waits for room before raising
            `PublishTimeoutError` (``None``: forever; ``0``: not at all).
        linger: Seconds [`close`][proxyflow.shims.zmq.publisher.ZeroMQPublisher.close]
            waits for queued messages to leave (``None``: until sent). It
            returns as soon as they are out; a subscriber that reads nothing
            for this long loses them.
        copy_threshold: Size from which messages are sent without a copy.
        context: A ZeroMQ context to use (not terminated on close); by default
            the publisher creates and owns one.

    Raises:
        AddressInUseError: if the address is taken (an ``OSError``).
        InvalidAddressError: if the endpoint is invalid (a ``ValueError``).
        InvalidContextError: if ``context`` is terminated (a ``ValueError``).
        ValueError: if ``on_full`` or a number is out of range.
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

    label = "ZeroMQPublisher"

    def __init__(
        self,
        address: str,
        port: int | None = None,
        *,
        sndhwm: int = 1000,
        on_full: OnFull = "block",
        send_timeout: float | None = DEFAULT_SEND_TIMEOUT,
        linger: float | None = DEFAULT_SEND_TIMEOUT,
        copy_threshold: int = DEFAULT_COPY_THRESHOLD,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
    ) -> None:
        options = publisher_options(
            "ZeroMQPublisher",
            address,
            port,
            sndhwm=sndhwm,
            on_full=on_full,
            send_timeout=send_timeout,
            linger=linger,
            copy_threshold=copy_threshold,
        )
        self._lock = threading.Lock()
        self._closing = False  # set without the lock, so that a blocked send sees it
        super().__init__(options, context, zmq.Socket, sliced=True)

    @property
    def sndhwm(self) -> int:
        """The send high-water mark of the socket."""
        with self._lock:
            return self._read_sndhwm()

    def send_message(self, topic: str, message: Message) -> None:
        """Publish ``message`` on ``topic``.

        Returns once ZeroMQ has queued the message for every subscriber of the
        topic; with ``on_full="block"`` it first waits (up to ``send_timeout``)
        for a subscriber whose queue is full.

        Args:
            topic: The topic; any string without a NUL character.
            message: The message bytes; from ``copy_threshold`` bytes on it is
                sent without a copy (do not modify it afterwards).

        Raises:
            PublishTimeoutError: if a subscriber's queue stayed full for
                ``send_timeout`` seconds (a ``TimeoutError``; nothing was sent).
            PublisherClosedError: if the publisher was (or got) closed, or its
                context terminated.
            InvalidTopicError: if ``topic`` contains a NUL character.
            TypeError: if ``topic`` is not a string or ``message`` not bytes-like.
        """
        frame, payload = self._prepare(topic, message)
        with self._lock:
            if self._closed or current_pid() != self._pid:
                self._check_open()
            socket = self._socket
            try:
                self._note_send()
                # Two sends: pyzmq's send_multipart checks every part in Python and
                # measured slower for two frames. Only the first frame can find a
                # full queue: ZeroMQ counts whole messages.
                try:
                    socket.send(frame, zmq.SNDMORE)
                except zmq.Again:
                    send_first_frame(
                        socket, frame, topic, self._send_timeout, lambda: self._closing
                    )
                if len(payload) >= self._copy_threshold:
                    socket.send(payload, 0, copy=False)
                else:
                    socket.send(payload)
            except zmq.ZMQError as exc:
                raise self._failed(exc, f"sending on {topic!r}") from None

    def subscriber_count(self, topic: str) -> int:
        """Return how many subscriptions currently match ``topic``.

        Counts subscriptions announced to this publisher (by this shim's
        subscribers, or any SUB socket whose prefix matches the topic frame).
        A subscriber that leaves is uncounted once ZeroMQ notices its
        disconnection, which takes a moment.

        Raises:
            PublisherClosedError: if the publisher was closed.
        """
        with self._lock:
            return self._count(topic)

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
        wanted = Wanted(count, topics, timeout, exact)
        subscriptions = self._subscriptions
        while True:
            with self._lock:
                self._check_open()
                try:
                    subscriptions.read(self._socket)
                    wait = wanted.next_wait(subscriptions)
                    if wait is None:
                        return
                    subscriptions.drain(self._socket, max(1, int(wait * 1000)))
                except zmq.ZMQError as exc:
                    raise self._failed(exc, "waiting for subscribers") from None

    def close(self) -> None:
        """Close the socket (after ``linger``) and an owned context; idempotent.

        A send blocked in another thread raises `PublisherClosedError` first.
        """
        self._closing = True
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._close_socket():
                self._context.term()
