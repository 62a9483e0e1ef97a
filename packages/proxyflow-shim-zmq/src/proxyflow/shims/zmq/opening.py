"""Opening the sockets of publishers and subscribers, shared by the sync and asyncio classes.

Both publishers bind an ``XPUB`` socket with the same options, and both
subscribers connect a ``SUB`` socket with the same subscriptions; only the
socket class differs (``zmq.Socket`` or ``zmq.asyncio.Socket``). A failure
while opening releases what was created (the socket, and a context made here)
before the error propagates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic

import zmq

from proxyflow.shims.zmq.exceptions import (
    InvalidContextError,
    PublisherClosedError,
    ZeroMQShimError,
)
from proxyflow.shims.zmq.flow import configure
from proxyflow.shims.zmq.options import PublisherOptions, SubscriberOptions
from proxyflow.shims.zmq.sockets import S, bind, connect, failure, new_socket

__all__ = ["OpenSocket", "open_publisher", "open_subscriber"]


@dataclass(frozen=True)
class OpenSocket(Generic[S]):
    """A configured socket and the context it belongs to.

    Attributes:
        context: The ZeroMQ context.
        own_context: Whether the context was created here (the object terminates it).
        socket: The socket.
        address: The endpoint bound (a publisher's, with the real port), or ``""``.
    """

    context: zmq.Context[Any]
    own_context: bool
    socket: S
    address: str = ""


def _open(
    context: zmq.Context[Any] | None,
    kind: int,
    socket_class: type[S],
    label: str,
    *,
    setup: Callable[[S], None],
    attach: Callable[[S], str],
    doing: str,
    closed_error: type[ZeroMQShimError],
) -> OpenSocket[S]:
    """Create a socket, ``setup`` its options, ``attach`` it (bind or connect); undo on failure."""
    own = context is None
    ctx: zmq.Context[Any] = zmq.Context() if context is None else context
    socket: S | None = None
    try:
        socket = new_socket(ctx, kind, label, socket_class)
        try:
            setup(socket)
        except zmq.ZMQError as exc:
            raise failure(exc, label, doing, closed_error) from None
        address = attach(socket)
    except BaseException:
        if socket is not None:
            socket.close(linger=0)
        if own:
            ctx.term()
        raise
    return OpenSocket(ctx, own, socket, address)


def open_publisher(
    options: PublisherOptions,
    context: zmq.Context[Any] | None,
    socket_class: type[S],
    label: str,
    *,
    sliced: bool,
) -> OpenSocket[S]:
    """Create, configure and bind a publisher's ``XPUB`` socket.

    Args:
        options: The publisher's checked options.
        context: The context to use, or ``None`` to create one (then owned).
        socket_class: ``zmq.Socket`` or ``zmq.asyncio.Socket``.
        label: The class name, for messages.
        sliced: Whether blocking sends wait inside ZeroMQ in slices (the sync
            publisher; see `flow.configure`).

    Raises:
        AddressInUseError: if the address is taken.
        InvalidAddressError: if the endpoint is invalid.
        InvalidContextError: if ``context`` is terminated.
        SocketFailedError: if ZeroMQ cannot create or configure the socket.
    """

    def setup(socket: S) -> None:
        # pyzmq copies "zero-copy" sends below its own threshold; use ours only.
        socket.copy_threshold = 0
        socket.setsockopt(zmq.SNDHWM, options.sndhwm)
        socket.setsockopt(zmq.LINGER, options.linger_ms)
        # Pass every (un)subscription up, not only the first/last per prefix,
        # so that subscribers can be counted.
        socket.setsockopt(zmq.XPUB_VERBOSE, 1)
        socket.setsockopt(zmq.XPUB_VERBOSER, 1)
        configure(socket, options.on_full, options.send_timeout, sliced=sliced)

    return _open(
        context,
        zmq.XPUB,
        socket_class,
        label,
        setup=setup,
        attach=lambda socket: bind(socket, options.address),
        doing="configuring",
        closed_error=PublisherClosedError,
    )


def open_subscriber(
    options: SubscriberOptions,
    context: zmq.Context[Any] | None,
    socket_class: type[S],
    label: str,
    *,
    rcvtimeo_ms: int | None,
) -> OpenSocket[S]:
    """Create a subscriber's ``SUB`` socket, subscribe to its topics and connect it.

    Args:
        options: The subscriber's checked options.
        context: The context to use, or ``None`` to create one (then owned).
        socket_class: ``zmq.Socket`` or ``zmq.asyncio.Socket``.
        label: The class name, for messages.
        rcvtimeo_ms: ``RCVTIMEO`` to set (the sync subscriber waits inside
            ZeroMQ), or ``None`` to leave it (the asyncio one waits on the loop).

    Raises:
        InvalidAddressError: if an endpoint is invalid.
        InvalidContextError: if ``context`` is terminated.
        SocketFailedError: if ZeroMQ cannot create the socket.
    """

    def setup(socket: S) -> None:
        if rcvtimeo_ms is not None:
            socket.setsockopt(zmq.RCVTIMEO, rcvtimeo_ms)
        socket.setsockopt(zmq.RCVHWM, options.rcvhwm)
        socket.setsockopt(zmq.LINGER, options.linger_ms)
        for frame in options.frames:
            socket.setsockopt(zmq.SUBSCRIBE, frame)

    def attach(socket: S) -> str:
        for endpoint in options.addresses:
            connect(socket, endpoint)
        return ""

    return _open(
        context,
        zmq.SUB,
        socket_class,
        label,
        setup=setup,
        attach=attach,
        doing="subscribing",
        closed_error=InvalidContextError,
    )
