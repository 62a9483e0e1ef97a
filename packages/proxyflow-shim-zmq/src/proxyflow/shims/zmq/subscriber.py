"""The subscriber side of the ZeroMQ shim: a connecting SUB socket."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import overload

import zmq

from proxyflow.api import PollingSubscriber
from proxyflow.shims.zmq.exceptions import (
    InvalidContextError,
    MalformedMessageError,
    SubscriberClosedError,
    SubscriberTimeoutError,
)
from proxyflow.shims.zmq.framing import topic_frame
from proxyflow.shims.zmq.publisher import DEFAULT_COPY_THRESHOLD
from proxyflow.shims.zmq.sockets import (
    check_process,
    connect,
    current_pid,
    failure,
    linger_ms,
    new_socket,
    tcp_endpoint,
)

__all__ = ["ZeroMQSubscriber"]


class ZeroMQSubscriber(PollingSubscriber[bytes | memoryview]):
    """Receives the messages of some topics from a ZeroMQ publisher.

    The publisher is a [`ZeroMQPublisher`][proxyflow.shims.zmq.ZeroMQPublisher]. The
    socket connects in the background (and reconnects after a network
    failure), so construction never fails for an unreachable publisher; use
    the publisher's ``wait_for_subscribers`` to know when the subscription has
    arrived, since messages sent before that are not delivered to it.

    Behaviour:

    * **Ordering**: messages from one publisher arrive in the order sent.
    * **Blocking**: [`next_message`][proxyflow.shims.zmq.subscriber.ZeroMQSubscriber.next_message]
      waits up to its ``timeout`` (``None``: until a message arrives or the
      subscriber is closed). Iteration, and ``next_message()`` without an
      argument, wait up to the ``timeout`` given here.
    * **Multi-producer**: connect to several publishers by giving a sequence
      of addresses; messages are then fair-queued between them.
    * **Multi-consumer**: fan-out: every subscriber gets every message of its topics.
    * **Loss**: messages sent before the subscription reached the publisher,
      or while disconnected, are lost. When ``rcvhwm`` messages wait unread,
      the publisher waits for room (its default ``on_full="block"``) or drops
      the excess for this subscriber (``on_full="drop"``). Nothing here reports
      a loss; proxyflow's stream consumer sees it as a gap in the sequence
      numbers of each producer.
    * **close()**: closes the socket (discarding unread messages) and
      terminates the context if this object created it. A context terminated
      by other code closes the subscriber too. Then
      [`next_message`][proxyflow.shims.zmq.subscriber.ZeroMQSubscriber.next_message]
      raises `EOFError` and iteration stops. From another thread while one
      reads, the reader finishes the close within ``poll_interval``. Idempotent.

    Returned messages are ``bytes`` below ``copy_threshold`` bytes; larger
    ones are a ``memoryview`` over the received ZeroMQ frame (no copy; it is yours;
    the frame lives as long as the view).

    Read a subscriber from one thread at a time. It belongs to the process that
    created it (it cannot be pickled or used after ``fork``).

    ProxyStore's form ``ZeroMQSubscriber(address, port, *, topic=...)`` works
    too and connects to ``tcp://address:port``. Topics still match exactly
    (ProxyStore's match by prefix), so ProxyStore's default ``topic=""``, which
    there means every topic, has no equivalent: the topic must be named.

    Args:
        address: The publisher's endpoint, or a sequence of endpoints. With
            ProxyStore's ``port``, a host only.
        topics: One topic or a sequence of topics (exact names, no NUL).
        port: ProxyStore's form: the publisher's TCP port (positional, in place
            of ``topics``, or by keyword).
        topic: ProxyStore's form: the topic(s) to read.
        rcvhwm: Messages queued unread for this subscriber before the
            publisher waits (or, with its ``on_full="drop"``, drops new ones).
        timeout: Seconds iteration, and ``next_message()`` without an
            argument, wait before raising `TimeoutError` (``None``: forever).
        linger: Seconds [`close`][proxyflow.shims.zmq.subscriber.ZeroMQSubscriber.close]
            waits for outgoing (subscription) traffic.
        copy_threshold: Size from which messages are returned as memoryviews.
        poll_interval: Longest single wait on the socket, so that a
            [`close`][proxyflow.shims.zmq.subscriber.ZeroMQSubscriber.close]
            from another thread is noticed.
        context: A ZeroMQ context to use (not terminated on close); by default
            the subscriber creates and owns one.

    Raises:
        InvalidTopicError: if a topic contains a NUL character.
        InvalidAddressError: if an endpoint is invalid.
        InvalidContextError: if ``context`` is terminated (a ``ValueError``).
        ValueError: if no topic is given or a number is out of range.
        TypeError: if the arguments fit neither form (the message shows the endpoint form).

    Example:
        ```python
        from proxyflow.shims.zmq import ZeroMQSubscriber

        subscriber = ZeroMQSubscriber("tcp://127.0.0.1:5555", ["events"], timeout=10.0)
        for message in subscriber:
            print(bytes(message))
        ```
    """

    closed_error = SubscriberClosedError
    timeout_error = SubscriberTimeoutError
    allow_empty_topics = True  # "" is a topic of its own: its frame is a lone NUL

    @overload
    def __init__(
        self,
        address: str | Sequence[str],
        topics: str | Sequence[str],
        *,
        rcvhwm: int = 1000,
        timeout: float | None = None,
        linger: float | None = 0.0,
        copy_threshold: int = DEFAULT_COPY_THRESHOLD,
        poll_interval: float = 0.1,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        address: str,
        port: int,
        /,
        *,
        topic: str | Sequence[str],
        rcvhwm: int = 1000,
        timeout: float | None = None,
        linger: float | None = 0.0,
        copy_threshold: int = DEFAULT_COPY_THRESHOLD,
        poll_interval: float = 0.1,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
    ) -> None: ...

    def __init__(
        self,
        address: str | Sequence[str],
        topics: str | Sequence[str] | int | None = None,
        *,
        port: int | None = None,
        topic: str | Sequence[str] | None = None,
        rcvhwm: int = 1000,
        timeout: float | None = None,
        linger: float | None = 0.0,
        copy_threshold: int = DEFAULT_COPY_THRESHOLD,
        poll_interval: float = 0.1,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
    ) -> None:
        if isinstance(topics, int) and not isinstance(topics, bool):
            port, topics = topics, None
        if port is not None:  # ProxyStore's (address, port, *, topic)
            if topics is not None or not topic:
                raise TypeError(
                    "ZeroMQSubscriber(address, port, *, topic) needs topic='name' and no other "
                    "topics; topics match exactly, so ProxyStore's topic='' (every topic) has "
                    "no equivalent. The endpoint form: "
                    "ZeroMQSubscriber('tcp://127.0.0.1:5555', ['name'])"
                )
            address, topics = tcp_endpoint("ZeroMQSubscriber", address, port), topic
        elif topic is not None:
            raise TypeError(
                "ZeroMQSubscriber() takes topic= only with ProxyStore's (address, port) "
                "form; with an endpoint it is ZeroMQSubscriber(address, topics)"
            )
        if topics is None or isinstance(topics, int):
            raise TypeError(
                "ZeroMQSubscriber() needs topics: ZeroMQSubscriber('tcp://127.0.0.1:5555', ['t'])"
            )
        super().__init__(topics, timeout=timeout, poll_interval=poll_interval)
        frames = [topic_frame(topic) for topic in self._topics]
        if not frames:
            raise ValueError("a subscriber needs at least one topic")
        if rcvhwm < 0:
            raise ValueError(f"rcvhwm must be >= 0, got {rcvhwm!r}")
        addresses = (address,) if isinstance(address, str) else tuple(address)
        if not addresses:
            raise ValueError("a subscriber needs at least one address")
        self._addresses = addresses
        self._linger = linger_ms(linger)
        self._copy_threshold = copy_threshold
        self._poll_ms = max(1, round(poll_interval * 1000))
        self._pid = os.getpid()
        self._released = False
        self._own_context = context is None
        self._context: zmq.Context[zmq.Socket[bytes]] = (
            zmq.Context() if context is None else context
        )
        try:
            self._socket: zmq.Socket[bytes] = new_socket(self._context, zmq.SUB, "ZeroMQSubscriber")
        except BaseException:
            self._released = True
            if self._own_context:
                self._context.term()
            raise
        # Receives wait inside ZeroMQ for at most RCVTIMEO ms (no poll per
        # message); it is set to the poll interval and changed only when a
        # deadline is nearer.
        self._rcvtimeo = self._poll_ms
        try:
            try:
                self._socket.setsockopt(zmq.RCVTIMEO, self._rcvtimeo)
                self._socket.setsockopt(zmq.RCVHWM, rcvhwm)
                self._socket.setsockopt(zmq.LINGER, self._linger)
                for frame in frames:
                    self._socket.setsockopt(zmq.SUBSCRIBE, frame)
            except zmq.ZMQError as exc:
                raise failure(exc, "ZeroMQSubscriber", "subscribing", InvalidContextError) from None
            for endpoint in addresses:
                connect(self._socket, endpoint)
        except BaseException:
            self._close_socket()
            raise

    @property
    def addresses(self) -> tuple[str, ...]:
        """The endpoints connected to."""
        return self._addresses

    @property
    def rcvhwm(self) -> int:
        """The receive high-water mark of the socket."""
        with self._state_lock:
            self._check_usable()
            try:
                return int(self._socket.getsockopt(zmq.RCVHWM))
            except zmq.ZMQError as exc:
                error = failure(exc, "ZeroMQSubscriber", "reading rcvhwm", SubscriberClosedError)
        if isinstance(error, SubscriberClosedError):
            self.close()
        raise error

    def _check_usable(self) -> None:
        if self._closed:
            raise SubscriberClosedError("the ZeroMQSubscriber is closed")
        check_process(self._pid, "ZeroMQSubscriber")

    def _poll(self, wait: float) -> bytes | memoryview | None:
        """Receive one message within ``wait`` seconds, else return ``None``.

        A message is ``bytes``, or from ``copy_threshold`` bytes on a
        memoryview of the received frame.

        Raises:
            WrongProcessError: if used after ``fork``.
            MalformedMessageError: if the message is not ``[topic + NUL, payload]``.
            SubscriberClosedError: if the context was terminated (the
                subscriber is then closed).
            SocketFailedError: if ZeroMQ fails otherwise.
        """
        if current_pid() != self._pid:
            check_process(self._pid, "ZeroMQSubscriber")
        socket = self._socket
        try:
            wait_ms = self._poll_ms if wait >= self._poll_interval else int(wait * 1000)
            if wait_ms != self._rcvtimeo:
                socket.setsockopt(zmq.RCVTIMEO, wait_ms)
                self._rcvtimeo = wait_ms
            try:
                head: zmq.Frame = socket.recv(0, copy=False)
            except zmq.Again:
                return None
            # The parts of a multipart message arrive together: the rest is here.
            payload: zmq.Frame | None = socket.recv(zmq.NOBLOCK, copy=False) if head.more else None
            if payload is None or payload.more:
                parts = 1 if payload is None else 2 + self._discard_rest()
                raise MalformedMessageError(
                    f"expected 2 frames [topic, payload], got {parts}; "
                    "is a foreign publisher bound to the same endpoint?"
                )
        except zmq.ZMQError as exc:
            if exc.errno == zmq.ETERM:
                # The context's term() waits for this socket: close, and release
                # it when this read ends (PollingSubscriber's handshake).
                with self._state_lock:
                    self._closed = True
            raise failure(exc, "ZeroMQSubscriber", "receiving", SubscriberClosedError) from None
        if len(payload) >= self._copy_threshold:
            view: memoryview = payload.buffer
            return view
        return payload.bytes

    def _discard_rest(self) -> int:
        """Receive and drop the remaining parts of a message; return how many."""
        count = 1
        while self._socket.recv(zmq.NOBLOCK, copy=False).more:
            count += 1
        return count

    def _release(self, late: bytes | memoryview | None) -> None:
        # A message that arrived after the close is dropped with the unread ones.
        self._close_socket()

    def _close_socket(self) -> None:
        if self._released or current_pid() != self._pid:
            return  # a forked child must not touch the parent's context
        self._released = True
        self._socket.close(linger=self._linger)
        if self._own_context:
            self._context.term()

    def __reduce__(self) -> str:
        raise TypeError("a ZeroMQSubscriber cannot be pickled; create it in the process that reads")

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"ZeroMQSubscriber({list(self._addresses)}, topics={list(self._topics)}, {state})"
