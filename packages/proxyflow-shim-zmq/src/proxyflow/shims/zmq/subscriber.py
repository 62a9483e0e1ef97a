"""The subscriber side of the ZeroMQ shim: a connecting SUB socket."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence

import zmq

from proxyflow.shims.zmq.exceptions import (
    MalformedMessageError,
    SubscriberClosedError,
    SubscriberTimeoutError,
    WrongProcessError,
)
from proxyflow.shims.zmq.framing import topic_frame
from proxyflow.shims.zmq.publisher import DEFAULT_COPY_THRESHOLD
from proxyflow.shims.zmq.sockets import connect, current_pid, linger_ms

__all__ = ["ZeroMQSubscriber"]


class ZeroMQSubscriber:
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
      subscriber is closed). Iteration waits up to the ``timeout`` given here.
    * **Multi-producer**: connect to several publishers by giving a sequence
      of addresses; messages are then fair-queued between them.
    * **Multi-consumer**: fan-out: every subscriber gets every message of its topics.
    * **Loss**: messages sent before the subscription reached the publisher,
      while disconnected, or beyond ``rcvhwm`` unread messages (the excess is
      dropped on the publisher's side) are lost.
    * **close()**: closes the socket (discarding unread messages) and
      terminates the context if this object created it; then
      [`next_message`][proxyflow.shims.zmq.subscriber.ZeroMQSubscriber.next_message]
      raises `EOFError` and iteration stops. From another thread while one
      reads, the reader finishes the close within ``poll_interval``. Idempotent.

    Returned messages are ``bytes`` below ``copy_threshold`` bytes; larger
    ones are a ``memoryview`` over the received ZeroMQ frame (no copy; it is yours;
    the frame lives as long as the view).

    Read a subscriber from one thread at a time. It belongs to the process that
    created it (it cannot be pickled or used after ``fork``).

    Args:
        address: The publisher's endpoint, or a sequence of endpoints.
        topics: One topic or a sequence of topics (exact names, no NUL).
        rcvhwm: Messages queued for this subscriber before new ones are dropped.
        timeout: Seconds iteration waits before raising `TimeoutError`
            (``None``: forever).
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
        ValueError: if no topic is given or a number is out of range.

    Example:
        ```python
        from proxyflow.shims.zmq import ZeroMQSubscriber

        subscriber = ZeroMQSubscriber("tcp://127.0.0.1:5555", ["events"], timeout=10.0)
        for message in subscriber:
            print(bytes(message))
        ```
    """

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
    ) -> None:
        items = (topics,) if isinstance(topics, str) else tuple(topics)
        frames = [topic_frame(topic) for topic in items]
        if not frames:
            raise ValueError("a subscriber needs at least one topic")
        if rcvhwm < 0:
            raise ValueError(f"rcvhwm must be >= 0, got {rcvhwm!r}")
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0 or None, got {timeout!r}")
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be > 0, got {poll_interval!r}")
        addresses = (address,) if isinstance(address, str) else tuple(address)
        if not addresses:
            raise ValueError("a subscriber needs at least one address")
        self._topics = tuple(dict.fromkeys(items))
        self._addresses = addresses
        self._timeout = timeout
        self._linger = linger_ms(linger)
        self._copy_threshold = copy_threshold
        self._poll_ms = max(1, round(poll_interval * 1000))
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._closed = False
        self._reading = False
        self._released = False
        self._own_context = context is None
        self._context: zmq.Context[zmq.Socket[bytes]] = (
            zmq.Context() if context is None else context
        )
        self._socket: zmq.Socket[bytes] = self._context.socket(zmq.SUB)
        # Receives wait inside ZeroMQ for at most RCVTIMEO ms (no poll per
        # message); it is set to the poll interval and changed only when a
        # deadline is nearer.
        self._rcvtimeo = self._poll_ms
        try:
            self._socket.setsockopt(zmq.RCVTIMEO, self._rcvtimeo)
            self._socket.setsockopt(zmq.RCVHWM, rcvhwm)
            self._socket.setsockopt(zmq.LINGER, self._linger)
            for frame in dict.fromkeys(frames):
                self._socket.setsockopt(zmq.SUBSCRIBE, frame)
            for endpoint in addresses:
                connect(self._socket, endpoint)
        except BaseException:
            self._release()
            raise

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics subscribed to."""
        return self._topics

    @property
    def addresses(self) -> tuple[str, ...]:
        """The endpoints connected to."""
        return self._addresses

    @property
    def closed(self) -> bool:
        """Whether [`close`][proxyflow.shims.zmq.subscriber.ZeroMQSubscriber.close] was called."""
        return self._closed

    @property
    def rcvhwm(self) -> int:
        """The receive high-water mark of the socket."""
        with self._lock:
            self._check_usable()
            return int(self._socket.getsockopt(zmq.RCVHWM))

    def _check_usable(self) -> None:
        if self._closed:
            raise SubscriberClosedError("the ZeroMQSubscriber is closed")
        if current_pid() != self._pid:
            raise WrongProcessError(
                "this ZeroMQSubscriber was created in another process; create one per process"
            )

    def next_message(self, timeout: float | None = None) -> bytes | memoryview:
        """Return the next message on one of the topics.

        Args:
            timeout: Seconds to wait; ``None`` waits until a message arrives or
                the subscriber is closed; ``0`` only takes what already arrived.

        Returns:
            The payload: ``bytes``, or a memoryview of the received frame from
            ``copy_threshold`` bytes on.

        Raises:
            SubscriberTimeoutError: if nothing arrived in time (a ``TimeoutError``).
            SubscriberClosedError: if the subscriber is closed (an ``EOFError``).
            MalformedMessageError: if a message was not framed by this shim.
        """
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0 or None, got {timeout!r}")
        with self._lock:
            if self._closed or current_pid() != self._pid:
                self._check_usable()
            self._reading = True
        head: zmq.Frame | None = None
        try:
            head = self._receive_head(timeout)
        finally:
            with self._lock:
                self._reading = False
                closed = self._closed
            if closed:
                self._release()
        if closed:
            raise SubscriberClosedError("the ZeroMQSubscriber is closed")
        if head is None:
            raise SubscriberTimeoutError(f"no message within {timeout}s on {list(self._topics)}")
        # The parts of a multipart message arrive together: the rest is here.
        payload: zmq.Frame | None = (
            self._socket.recv(zmq.NOBLOCK, copy=False) if head.more else None
        )
        if payload is None or payload.more:
            parts = 1 if payload is None else 2 + self._discard_rest()
            raise MalformedMessageError(
                f"expected 2 frames [topic, payload], got {parts}; "
                "is a foreign publisher bound to the same endpoint?"
            )
        if len(payload) >= self._copy_threshold:
            view: memoryview = payload.buffer
            return view
        return payload.bytes

    def _receive_head(self, timeout: float | None) -> zmq.Frame | None:
        """Receive the first frame of the next message, or ``None`` on timeout or close."""
        socket = self._socket
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._closed:
            wait_ms = self._poll_ms
            if deadline is not None:
                wait_ms = min(wait_ms, max(0, int((deadline - time.monotonic()) * 1000)))
            if wait_ms != self._rcvtimeo:
                socket.setsockopt(zmq.RCVTIMEO, wait_ms)
                self._rcvtimeo = wait_ms
            try:
                return socket.recv(0, copy=False)
            except zmq.Again:
                pass
            if deadline is not None and time.monotonic() >= deadline:
                return None
        return None

    def _discard_rest(self) -> int:
        """Receive and drop the remaining parts of a message; return how many."""
        count = 1
        while self._socket.recv(zmq.NOBLOCK, copy=False).more:
            count += 1
        return count

    def __iter__(self) -> Iterator[bytes | memoryview]:
        return self

    def __next__(self) -> bytes | memoryview:
        try:
            return self.next_message(self._timeout)
        except EOFError:
            raise StopIteration from None

    def close(self) -> None:
        """Close the socket and an owned context; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._reading:
                return  # the reader releases the socket when it wakes up
        self._release()

    def _release(self) -> None:
        if self._released or current_pid() != self._pid:
            return  # a forked child must not touch the parent's context
        self._released = True
        self._socket.close(linger=self._linger)
        if self._own_context:
            self._context.term()

    def __reduce__(self) -> str:
        raise TypeError("a ZeroMQSubscriber cannot be pickled; create it in the process that reads")

    def __enter__(self) -> ZeroMQSubscriber:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"ZeroMQSubscriber({list(self._addresses)}, topics={list(self._topics)}, {state})"
