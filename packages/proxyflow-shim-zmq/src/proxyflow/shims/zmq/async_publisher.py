"""The asyncio publisher of the ZeroMQ shim: a bound XPUB socket on ``zmq.asyncio``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import zmq
import zmq.asyncio

from proxyflow.api import AsyncCloseable, Message
from proxyflow.shims.zmq.flow import (
    DEFAULT_SEND_TIMEOUT,
    WAIT_SLICE_MS,
    OnFull,
    closed_while_waiting,
    not_sent_in_time,
)
from proxyflow.shims.zmq.options import DEFAULT_COPY_THRESHOLD, publisher_options
from proxyflow.shims.zmq.publisher_core import PublisherCore
from proxyflow.shims.zmq.readiness import wait_ready
from proxyflow.shims.zmq.sockets import current_pid
from proxyflow.shims.zmq.subscriptions import Wanted

__all__ = ["AsyncZeroMQPublisher"]

_FIRST_FRAME = int(zmq.SNDMORE | zmq.NOBLOCK)
"""Flags of a first frame sent without waiting (as an int: combining pyzmq's flags costs ~1 us)."""
_LAST_FRAME = int(zmq.NOBLOCK)


class AsyncZeroMQPublisher(PublisherCore[zmq.asyncio.Socket], AsyncCloseable):
    """Publishes messages on a bound ZeroMQ ``XPUB`` socket, from asyncio code.

    The asyncio form of [`ZeroMQPublisher`][proxyflow.shims.zmq.ZeroMQPublisher]
    on ``zmq.asyncio``: the same arguments, wire format (``[topic + NUL,
    payload]``, exact topic matching), flow control and errors, with
    coroutines. Its subscribers may be sync or asyncio ones. It satisfies
    ``proxyflow.api.AsyncPublisher``.

    Behaviour (as the sync publisher's; the differences are in bold):

    * **Ordering**: messages from one publisher arrive in the order sent, to
      each subscriber; sends from several tasks are never interleaved.
    * **Blocking**: with ``on_full="block"`` (the default) a send that finds a
      subscriber's queue full waits for room **on the event loop** (other
      tasks run meanwhile), at most ``send_timeout`` seconds, then raises
      [`PublishTimeoutError`][proxyflow.shims.zmq.PublishTimeoutError] (the
      message reached no subscriber). Sends from other tasks that find one
      waiting wait their turn behind it. With ``on_full="drop"`` a send never waits:
      ZeroMQ drops the messages for a slow subscriber.
    * **Multi-producer**: one bound publisher per address; any number of tasks
      of its event loop may send.
    * **Multi-consumer**: fan-out: every connected subscriber of a topic gets
      every message on it.
    * **Loss**: as the sync publisher: messages sent before a subscription
      arrives (call ``wait_for_subscribers`` first), while a connection is
      broken, or beyond the high-water marks with ``on_full="drop"``. None
      is reported here; proxyflow's stream sees a gap.
    * **close()**: closes the socket; queued messages get ``linger`` seconds
      to leave, **waited for in a worker thread** (the loop runs on) when the
      publisher owns its context. A send waiting for room in another task
      raises [`PublisherClosedError`][proxyflow.shims.zmq.PublisherClosedError]
      at once (its message was not sent). Later sends raise it too. Idempotent.

    Messages of ``copy_threshold`` bytes or more are sent without a copy: do
    not modify a ``bytearray`` or writable ``memoryview`` after sending it.
    Use the publisher on one event loop, in the process that created it.

    Args:
        address: Endpoint to bind (``tcp://127.0.0.1:*`` picks a free port;
            see ``address``). With ``port``, a host or interface only.
        port: ProxyStore's form: the TCP port to bind on ``address``.
        sndhwm: Messages queued per subscriber before sends wait (or drop) (0: no limit).
        on_full: ``"block"``: wait for a slow subscriber (up to ``send_timeout``);
            ``"drop"``: drop messages for it.
        send_timeout: Seconds a blocked send waits for room before raising
            `PublishTimeoutError` (``None``: forever; ``0``: not at all).
        linger: Seconds ``close()`` waits for queued messages to leave
            (``None``: until sent).
        copy_threshold: Size from which messages are sent without a copy.
        context: A ZeroMQ context to use (``zmq.Context`` or
            ``zmq.asyncio.Context``; not terminated on close); by default the
            publisher creates and owns one.

    Raises:
        AddressInUseError: if the address is taken (an ``OSError``).
        InvalidAddressError: if the endpoint is invalid (a ``ValueError``).
        InvalidContextError: if ``context`` is terminated (a ``ValueError``).
        ValueError: if ``on_full`` or a number is out of range.
        TypeError: if ``port`` is given with an endpoint, or is not an int.

    Example:
        ```python
        import asyncio

        from proxyflow.shims.zmq import AsyncZeroMQPublisher, AsyncZeroMQSubscriber


        async def main() -> bytes:
            async with (
                AsyncZeroMQPublisher("tcp://127.0.0.1:*") as publisher,
                AsyncZeroMQSubscriber(publisher.address, ["events"]) as subscriber,
            ):
                await publisher.wait_for_subscribers(1, "events", timeout=5.0)
                await publisher.send_message("events", b"hello")
                return bytes(await subscriber.next_message(timeout=5.0))


        assert asyncio.run(main()) == b"hello"
        ```
    """

    label = "AsyncZeroMQPublisher"

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
            self.label,
            address,
            port,
            sndhwm=sndhwm,
            on_full=on_full,
            send_timeout=send_timeout,
            linger=linger,
            copy_threshold=copy_threshold,
        )
        self._room = asyncio.Lock()  # held by the send waiting for room; others queue
        # Frames move with non-blocking calls on the plain view of the socket;
        # the asyncio socket only waits for room (see `readiness`).
        super().__init__(options, context, zmq.asyncio.Socket, sliced=False)

    @property
    def sndhwm(self) -> int:
        """The send high-water mark of the socket."""
        return self._read_sndhwm()

    async def send_message(self, topic: str, message: Message) -> None:
        """Publish ``message`` on ``topic``.

        Returns once ZeroMQ has queued the message for every subscriber of the
        topic; with ``on_full="block"`` it first waits on the event loop (up
        to ``send_timeout``) for a subscriber whose queue is full.

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
        if self._closed or current_pid() != self._pid:
            self._check_open()
        plain = self._plain
        try:
            self._note_send()
            if self._room.locked():  # sends wait for room: queue behind them
                await self._send_when_room(frame, payload, topic)
                return
            try:
                plain.send(frame, _FIRST_FRAME)
            except zmq.Again:  # only the first frame can find a full queue
                await self._send_when_room(frame, payload, topic)
                return
            self._send_payload(payload)
        except zmq.ZMQError as exc:
            raise self._failed(exc, f"sending on {topic!r}") from None

    def _send_payload(self, payload: bytes | memoryview) -> None:
        # The rest of a message whose first frame was accepted never waits.
        if len(payload) >= self._copy_threshold:
            self._plain.send(payload, _LAST_FRAME, copy=False)
        else:
            self._plain.send(payload, _LAST_FRAME)

    async def _send_when_room(self, frame: bytes, payload: bytes | memoryview, topic: str) -> None:
        """Send once the full queue has room, in turn with other waiting sends."""
        deadline = None if self._send_timeout is None else time.monotonic() + self._send_timeout
        slice_s = WAIT_SLICE_MS / 1000
        async with self._room:
            while True:
                if self._closed:
                    raise closed_while_waiting(self.label, topic)
                try:
                    self._plain.send(frame, _FIRST_FRAME)
                except zmq.Again:
                    pass
                else:
                    self._send_payload(payload)
                    return
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    hwm = int(self._plain.getsockopt(zmq.SNDHWM))
                    raise not_sent_in_time(hwm, topic, self._send_timeout)
                wait = slice_s if remaining is None else min(slice_s, remaining)
                await wait_ready(self._socket, zmq.POLLOUT, wait)

    def subscriber_count(self, topic: str) -> int:
        """Return how many subscriptions currently match ``topic`` (as the sync publisher's).

        Raises:
            PublisherClosedError: if the publisher was closed.
        """
        return self._count(topic)

    async def wait_for_subscribers(
        self,
        count: int = 1,
        topics: str | Sequence[str] | None = None,
        *,
        timeout: float | None = 5.0,
        exact: bool = False,
    ) -> None:
        """Wait until each topic has at least (or, with ``exact``, exactly) ``count`` subscribers.

        The cure for the slow-joiner problem, as the sync publisher's
        ``wait_for_subscribers``; it waits on the event loop.

        Args:
            count: Number of subscriptions to wait for, per topic.
            topics: Topics to check; ``None`` counts all subscriptions together.
            timeout: Seconds to wait (``None``: forever).
            exact: Wait for exactly ``count`` (for example ``0`` after subscribers left).

        Raises:
            SubscriberWaitTimeoutError: if the counts were not reached in time
                (a ``TimeoutError``; the message gives the counts seen).
            PublisherClosedError: if the publisher was (or got) closed.
        """
        wanted = Wanted(count, topics, timeout, exact)
        subscriptions = self._subscriptions
        while True:
            self._check_open()
            try:
                subscriptions.read(self._plain)
                wait = wanted.next_wait(subscriptions)
                if wait is None:
                    return
                await wait_ready(self._socket, zmq.POLLIN, wait)
            except zmq.ZMQError as exc:
                raise self._failed(exc, "waiting for subscribers") from None

    async def close(self) -> None:
        """Close the socket (queued messages get ``linger``) and an owned context; idempotent.

        A send waiting for room in another task raises `PublisherClosedError`.
        """
        if self._closed:
            return
        self._closed = True
        if self._close_socket():
            # term() returns once queued messages are out (or linger passed).
            await asyncio.to_thread(self._context.term)
