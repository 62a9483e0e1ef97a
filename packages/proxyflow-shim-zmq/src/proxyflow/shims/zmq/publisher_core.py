"""What both ZeroMQ publishers hold and do alike: the socket, its options, counts, closing.

[`ZeroMQPublisher`][proxyflow.shims.zmq.ZeroMQPublisher] and
[`AsyncZeroMQPublisher`][proxyflow.shims.zmq.AsyncZeroMQPublisher] differ in
how a send waits for room (in ZeroMQ, or on the event loop) and how they are
closed; the rest is [`PublisherCore`][proxyflow.shims.zmq.publisher_core.PublisherCore].
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, Generic

import zmq

from proxyflow.api import Message, as_message
from proxyflow.shims.zmq.exceptions import PublisherClosedError
from proxyflow.shims.zmq.flow import OnFull
from proxyflow.shims.zmq.framing import cache_frame, topic_frame
from proxyflow.shims.zmq.opening import open_publisher
from proxyflow.shims.zmq.options import PublisherOptions
from proxyflow.shims.zmq.sockets import S, check_process, current_pid, failure, plain_view
from proxyflow.shims.zmq.subscriptions import READ_NOTICES_EVERY, SubscriptionCounts

__all__ = ["PublisherCore"]


class PublisherCore(Generic[S]):
    """The bound ``XPUB`` socket of a publisher, its options and its closed state.

    Args:
        options: The checked options (see `options.publisher_options`).
        context: A ZeroMQ context, or ``None`` to create one (then owned).
        socket_class: ``zmq.Socket`` or ``zmq.asyncio.Socket``.
        sliced: Whether blocking sends wait inside ZeroMQ (see `flow.configure`).
    """

    label: ClassVar[str] = "publisher"
    """The class name, for messages."""

    def __init__(
        self,
        options: PublisherOptions,
        context: zmq.Context[Any] | None,
        socket_class: type[S],
        *,
        sliced: bool,
    ) -> None:
        self._linger = options.linger_ms
        self._on_full: OnFull = options.on_full
        self._send_timeout = options.send_timeout
        self._copy_threshold = options.copy_threshold
        self._pid = os.getpid()
        self._closed = False
        self._subscriptions = SubscriptionCounts()
        self._frames: dict[str, bytes] = {}
        self._until_drain = READ_NOTICES_EVERY
        opened = open_publisher(options, context, socket_class, self.label, sliced=sliced)
        self._context = opened.context
        self._own_context = opened.own_context
        self._socket: S = opened.socket
        self._plain = plain_view(opened.socket)
        self._address = opened.address

    @property
    def address(self) -> str:
        """The endpoint bound, with the real port when ``*`` was asked for."""
        return self._address

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called, or the context was terminated."""
        return self._closed

    @property
    def on_full(self) -> OnFull:
        """What a send does when a subscriber's queue is full: ``"block"`` or ``"drop"``."""
        return self._on_full

    @property
    def send_timeout(self) -> float | None:
        """Seconds a blocked send waits for room (``None``: forever)."""
        return self._send_timeout

    def _prepare(self, topic: str, message: Message) -> tuple[bytes, bytes | memoryview]:
        """Return the topic frame (cached) and the checked payload of a message to send.

        Raises:
            InvalidTopicError: if ``topic`` contains a NUL character.
            TypeError: if ``topic`` is not a string or ``message`` not bytes-like.
        """
        frame = self._frames.get(topic) if type(topic) is str else None
        if frame is None:
            frame = cache_frame(self._frames, topic)
        return frame, as_message(message)

    def _note_send(self) -> None:
        """Count a send; read the queued subscription notices every `READ_NOTICES_EVERY`.

        Raises:
            zmq.ZMQError: as pyzmq raises it; the caller translates it.
        """
        self._until_drain -= 1
        if not self._until_drain:
            self._until_drain = READ_NOTICES_EVERY
            self._subscriptions.read(self._plain)

    def _check_open(self) -> None:
        if self._closed:
            raise PublisherClosedError(f"the {self.label} is closed")
        check_process(self._pid, self.label)

    def _failed(self, exc: zmq.ZMQError, doing: str) -> Exception:
        """Translate ``exc``; a terminated context also closes this publisher."""
        error = failure(exc, self.label, doing, PublisherClosedError)
        if exc.errno == zmq.ETERM:
            # Release the socket at once: the context's term() waits for it.
            self._closed = True
            self._socket.close(linger=0)
        return error

    def _read_sndhwm(self) -> int:
        self._check_open()
        try:
            return int(self._plain.getsockopt(zmq.SNDHWM))
        except zmq.ZMQError as exc:
            raise self._failed(exc, "reading sndhwm") from None

    def _count(self, topic: str) -> int:
        frame = topic_frame(topic)
        self._check_open()
        try:
            self._subscriptions.read(self._plain)
        except zmq.ZMQError as exc:
            raise self._failed(exc, "counting subscribers") from None
        return self._subscriptions.count(frame)

    def _close_socket(self) -> bool:
        """Close the socket (queued messages get ``linger``); whether the context may be ended.

        Returns:
            Whether the caller should terminate an owned context now (not in
            a forked child, which must not touch the parent's context).
        """
        if current_pid() != self._pid:
            return False
        self._socket.close(linger=self._linger)
        return self._own_context

    def __reduce__(self) -> str:
        raise TypeError(
            f"this {self.label} cannot be pickled; create it in the process that publishes"
        )

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"{self.label}({self._address!r}, on_full={self._on_full!r}, {state})"
