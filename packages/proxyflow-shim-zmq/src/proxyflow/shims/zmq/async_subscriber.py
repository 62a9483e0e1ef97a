"""The asyncio subscriber of the ZeroMQ shim: a connecting SUB socket on ``zmq.asyncio``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import zmq
import zmq.asyncio

from proxyflow.api import (
    CONFIGURED,
    AsyncCloseable,
    Configured,
    check_timeout,
    normalise_topics,
    wait_time,
)
from proxyflow.shims.zmq.exceptions import SubscriberClosedError, SubscriberTimeoutError
from proxyflow.shims.zmq.options import DEFAULT_COPY_THRESHOLD
from proxyflow.shims.zmq.readiness import wait_ready
from proxyflow.shims.zmq.receiving import rest_of_message
from proxyflow.shims.zmq.sockets import current_pid, failure
from proxyflow.shims.zmq.subscriber_core import SubscriberCore

__all__ = ["AsyncZeroMQSubscriber"]


class AsyncZeroMQSubscriber(SubscriberCore[zmq.asyncio.Socket], AsyncCloseable):
    """Receives the messages of some topics from a ZeroMQ publisher, in asyncio code.

    The asyncio form of [`ZeroMQSubscriber`][proxyflow.shims.zmq.ZeroMQSubscriber]
    on ``zmq.asyncio``: the same arguments (the endpoint form), wire format,
    exact topic matching and errors, with coroutines and ``async for``. Its
    publisher may be a sync or an asyncio one. It satisfies
    ``proxyflow.api.AsyncSubscriber``.

    Behaviour (as the sync subscriber's; the differences are in bold):

    * **Ordering**: messages from one publisher arrive in the order sent.
    * **Blocking**: ``next_message`` waits up to its ``timeout`` (``None``:
      until a message arrives or the subscriber is closed) **on the event
      loop**. ``async for``, and ``next_message()`` without an argument, wait
      up to the ``timeout`` given here. Several tasks may read one subscriber:
      each message goes to one of them, whole.
    * **Multi-producer**: connect to several publishers by giving a sequence
      of addresses; messages are then fair-queued between them.
    * **Multi-consumer**: fan-out: every subscriber gets every message of its topics.
    * **Loss**: messages sent before the subscription reached the publisher,
      or while disconnected, are lost; when ``rcvhwm`` messages wait unread the
      publisher waits for room (its default) or drops the excess. Nothing here
      reports a loss; proxyflow's stream consumer sees a gap. **A wait that
      ends (timeout, close, cancelled task) never takes a message**: messages
      leave the socket only when they are returned.
    * **close()**: closes the socket (discarding unread messages) and
      terminates the context if this object created it (in a worker thread,
      so the loop runs on). **A task waiting in ``next_message`` raises**
      [`SubscriberClosedError`][proxyflow.shims.zmq.SubscriberClosedError]
      **at once**, and ``async for`` stops. A context terminated by other code
      closes the subscriber too (noticed within ``poll_interval``). Idempotent.

    Returned messages are ``bytes`` below ``copy_threshold`` bytes; larger
    ones are a ``memoryview`` over the received ZeroMQ frame (no copy). Use
    the subscriber on one event loop, in the process that created it.

    Args:
        address: The publisher's endpoint, or a sequence of endpoints.
        topics: One topic or a sequence of topics (exact names, no NUL).
        rcvhwm: Messages queued unread for this subscriber before the
            publisher waits (or, with its ``on_full="drop"``, drops new ones).
        timeout: Seconds iteration, and ``next_message()`` without an
            argument, wait before raising `TimeoutError` (``None``: forever).
        linger: Seconds ``close()`` waits for outgoing (subscription) traffic.
        copy_threshold: Size from which messages are returned as memoryviews.
        poll_interval: Longest single wait on the socket: a context terminated
            by other code is noticed within it (a ``close()`` is noticed at once).
        context: A ZeroMQ context to use (``zmq.Context`` or
            ``zmq.asyncio.Context``; not terminated on close); by default the
            subscriber creates and owns one.

    Raises:
        InvalidTopicError: if a topic contains a NUL character.
        InvalidAddressError: if an endpoint is invalid.
        InvalidContextError: if ``context`` is terminated (a ``ValueError``).
        ValueError: if no topic is given or a number is out of range.

    Example:
        ```python
        from proxyflow.shims.zmq import AsyncZeroMQSubscriber


        async def consume() -> None:
            async with AsyncZeroMQSubscriber("tcp://127.0.0.1:5555", ["events"]) as subscriber:
                async for message in subscriber:
                    print(bytes(message))
        ```
    """

    label = "AsyncZeroMQSubscriber"

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
        check_timeout(timeout)
        if not poll_interval > 0:
            raise ValueError(f"poll_interval must be > 0, got {poll_interval!r}")
        self._topics = normalise_topics(topics, allow_empty=True)
        self._timeout = timeout
        self._poll_interval = poll_interval
        self._closed = False
        # Messages are received with non-blocking calls on the plain view of
        # the socket; the asyncio socket only waits (see `readiness`).
        self._open(
            address,
            context,
            zmq.asyncio.Socket,
            rcvhwm=rcvhwm,
            linger=linger,
            copy_threshold=copy_threshold,
            rcvtimeo_ms=None,
        )

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics this subscriber reads."""
        return self._topics

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called (or the context was terminated)."""
        return self._closed

    @property
    def rcvhwm(self) -> int:
        """The receive high-water mark of the socket."""
        self._check_usable()
        try:
            return int(self._plain.getsockopt(zmq.RCVHWM))
        except zmq.ZMQError as exc:
            raise self._failed(exc, "reading rcvhwm") from None

    def _failed(self, exc: zmq.ZMQError, doing: str) -> Exception:
        """Translate ``exc``; a terminated context also closes this subscriber."""
        if exc.errno == zmq.ETERM:
            # The context's term() waits for this socket: release it at once.
            self._closed = True
            self._release_socket()
        return failure(exc, self.label, doing, SubscriberClosedError)

    async def next_message(
        self, timeout: float | Configured | None = CONFIGURED
    ) -> bytes | memoryview:
        """Return the next message, waiting at most ``timeout`` seconds.

        Args:
            timeout: Seconds to wait; ``None`` waits until a message arrives
                or the subscriber is closed; ``0`` does not wait. By default,
                the ``timeout`` given at construction (as iteration waits).

        Raises:
            SubscriberTimeoutError: if nothing arrived in time (a ``TimeoutError``).
            SubscriberClosedError: if the subscriber is or gets closed, or its
                context was terminated (an ``EOFError``).
            MalformedMessageError: if the message is not ``[topic + NUL, payload]``.
            WrongProcessError: if used after ``fork``.
            SocketFailedError: if ZeroMQ fails otherwise.
            ValueError: if ``timeout`` is negative.
        """
        timeout = wait_time(timeout, self._timeout)
        if self._closed or current_pid() != self._pid:
            self._check_usable()
        try:
            message = self._receive_now()
            if message is None:
                message = await self._wait(timeout)
        except zmq.ZMQError as exc:
            raise self._failed(exc, "receiving") from None
        return message

    def _receive_now(self) -> bytes | memoryview | None:
        """Return the next message if one is there, else ``None``; never waits."""
        plain = self._plain
        try:
            head: zmq.Frame = plain.recv(zmq.NOBLOCK, copy=False)
        except zmq.Again:
            return None
        return rest_of_message(plain, head, self._copy_threshold)

    async def _wait(self, timeout: float | None) -> bytes | memoryview:
        """Wait on the loop for a message, in slices of at most ``poll_interval``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise SubscriberTimeoutError(
                    f"no message within {timeout}s for the {self.label} on {list(self._topics)}"
                )
            wait = self._poll_interval if remaining is None else min(self._poll_interval, remaining)
            await wait_ready(self._socket, zmq.POLLIN, wait)
            if self._closed:
                raise SubscriberClosedError(f"the {self.label} is closed")
            message = self._receive_now()
            if message is not None:
                return message

    def __aiter__(self) -> AsyncZeroMQSubscriber:
        return self

    async def __anext__(self) -> bytes | memoryview:
        try:
            return await self.next_message(self._timeout)
        except EOFError:
            raise StopAsyncIteration from None

    async def close(self) -> None:
        """Stop receiving, close the socket and an owned context; idempotent.

        A task waiting in ``next_message`` raises `SubscriberClosedError` at once.
        """
        self._closed = True
        if self._release_socket():
            await asyncio.to_thread(self._context.term)
