"""The subscriber side of the ZeroMQ shim: a connecting SUB socket."""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

import zmq

from proxyflow.api import PollingSubscriber
from proxyflow.shims.zmq.exceptions import SubscriberClosedError, SubscriberTimeoutError
from proxyflow.shims.zmq.options import DEFAULT_COPY_THRESHOLD
from proxyflow.shims.zmq.receiving import rest_of_message
from proxyflow.shims.zmq.sockets import check_process, current_pid, failure, tcp_endpoint
from proxyflow.shims.zmq.subscriber_core import SubscriberCore

__all__ = ["ZeroMQSubscriber"]


class ZeroMQSubscriber(SubscriberCore["zmq.Socket[bytes]"], PollingSubscriber[bytes | memoryview]):
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

    label = "ZeroMQSubscriber"
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
        # Receives wait inside ZeroMQ for at most RCVTIMEO ms (no poll per
        # message); it is set to the poll interval and changed only when a
        # deadline is nearer.
        self._poll_ms = max(1, round(poll_interval * 1000))
        self._rcvtimeo = self._poll_ms
        self._open(
            address,
            context,
            zmq.Socket,
            rcvhwm=rcvhwm,
            linger=linger,
            copy_threshold=copy_threshold,
            rcvtimeo_ms=self._rcvtimeo,
        )

    @property
    def rcvhwm(self) -> int:
        """The receive high-water mark of the socket."""
        with self._state_lock:
            self._check_usable()
            try:
                return int(self._plain.getsockopt(zmq.RCVHWM))
            except zmq.ZMQError as exc:
                error = failure(exc, "ZeroMQSubscriber", "reading rcvhwm", SubscriberClosedError)
        if isinstance(error, SubscriberClosedError):
            self.close()
        raise error

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
            return rest_of_message(socket, head, self._copy_threshold)
        except zmq.ZMQError as exc:
            if exc.errno == zmq.ETERM:
                # The context's term() waits for this socket: close, and release
                # it when this read ends (PollingSubscriber's handshake).
                with self._state_lock:
                    self._closed = True
            raise failure(exc, "ZeroMQSubscriber", "receiving", SubscriberClosedError) from None

    def _release(self, late: bytes | memoryview | None) -> None:
        # A message that arrived after the close is dropped with the unread ones.
        if self._release_socket():
            self._context.term()
